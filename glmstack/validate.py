"""One host's data validated on its own, before any deployment is put together: its shape
(glmstack.shape), the schema, secrets where no secret belongs, the catalog's choices, each value's
shape (glmstack.values), the recipe, and what the engine's command line can take (glmstack.command)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from glmstack.catalog import Catalog, Recipe
from glmstack.checks import credentials_in_url
from glmstack.command import compatibility_problems, extra_flag_problems, where_to_put
from glmstack.hostdata import HostConfig, HostDataError
from glmstack.secrets import SECRET_FILE_SETTINGS, secret_in
from glmstack.shape import data_problems
from glmstack.values import value_problems
from roles.registry import ROLE_PREFIXES


def _pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        # Dict keys and list positions after the field (extra_env.NAME, extra_flags.2); a key that
        # is not one word is not repeated (the field stays one word in the line).
        field, *inner = item["loc"] or ("(data)",)
        where = ".".join([str(field), *(str(part) for part in inner if re.fullmatch(r"[\w.:/+-]{1,64}", str(part)))])
        message = item["msg"].removeprefix("Value error, ")
        if message == "Input should be an instance of Path":
            message = "Input should be a path (a non-empty string)"
        if item["type"] == "missing":
            message = "is required"
        elif isinstance(item.get("input"), (str, int, float, bool)) and field != "extra_env" and \
                field not in SECRET_FILE_SETTINGS and len(repr(item["input"])) <= 200:
            # Scalars only: echoing a dict or list could print a secret a user pasted inline.
            message = f"{message} (got {item['input']!r})"
        problems.append((where, message))
    return problems


def _choice(kind: str, value: str, allowed: list[str]) -> tuple[str, str]:
    return (kind, f"{value!r} is not a known {kind}; allowed: {', '.join(sorted(allowed))}")


# URL settings: where a credential in them would end up, said as each one's refusal.
_IN_COMMANDS = "credentials in a URL end up in command lines and logs; give the URL without them"
_IN_SOURCES = "credentials in a URL end up in package sources and logs; give the mirror without them"
URL_SETTINGS = {
    "model_source": "credentials in a URL end up in command lines and logs; give the mirror without them (tokens "
                    "go in model_hf_token_file or model_modelscope_token_file)",
    "model_hf_endpoint": f"{_IN_COMMANDS} (the hub token goes in model_hf_token_file)",
    "model_modelscope_endpoint": f"{_IN_COMMANDS} (the token goes in model_modelscope_token_file)",
    "llamacpp_source": _IN_COMMANDS,
    "engine_requirement": _IN_COMMANDS,
    "nvidia_repo_url": _IN_SOURCES,
    "amd_repo_url": _IN_SOURCES,
    "ascend_pip_extra_index_urls": _IN_SOURCES,
    "ascend_packages": "credentials in a URL end up in command lines and logs; give the mirror without them",
    "base_http_proxy": "credentials in a proxy URL end up in apt's configuration (0644), the units' environment "
                       "and logs; give a proxy that lets the lab in by address (no setting carries proxy "
                       "credentials)",
    "base_https_proxy": "credentials in a proxy URL end up in apt's configuration (0644), the units' environment "
                        "and logs; give a proxy that lets the lab in by address (no setting carries proxy "
                        "credentials)",
}


def _leaves(value: Any, where: str = "") -> list[tuple[str, str]]:
    """(where in the setting, string) for every string a setting's value holds."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in
                [(f"{where}the name {key!r} ", str(key)), *_leaves(item, f"{where}the value of {key} ")]]
    if isinstance(value, (list, tuple)):
        return [leaf for at, item in enumerate(value, start=1) for leaf in _leaves(item, f"{where}item {at} ")]
    return []


def _secret_problems(config: HostConfig) -> list[tuple[str, str]]:
    """Secrets where host data holds no secret: credentials in any URL setting, and a secret's shape in
    any other value (extra_flags: _extra_flag_problems). Never the value itself."""
    problems = []
    for name in sorted(config.model_fields_set - {"extra_flags", *SECRET_FILE_SETTINGS}):
        value = getattr(config, name)
        if name in URL_SETTINGS:
            urls = [value] if isinstance(value, str) else list(value or [])
            if any(credentials_in_url(url.split(" @ ", 1)[-1].removeprefix("git+")) for url in urls):
                problems.append((name, URL_SETTINGS[name]))
            continue
        for where, text in _leaves(value):
            what = secret_in(text)
            if what is not None:
                problems.append((name, f"{where}holds {what}; a secret in host data reaches units, logs and plan "
                                       f"output: {where_to_put(text)}"))
                break
    return problems


def _recipe_for(config: HostConfig, catalog: Catalog, problems: list) -> Recipe | None:
    recipe = catalog.recipe(config.model, config.accelerator, config.engine, config.recipe_variant)
    if recipe is not None:
        return recipe
    variants = [r.variant for r in catalog.recipes_for(config.model, config.accelerator, config.engine)]
    if variants:
        problems.append(("recipe_variant", f"{config.recipe_variant!r} is not a recipe for {config.model} with "
                                           f"{config.engine} on {config.accelerator}; allowed: {', '.join(variants)}"))
    else:
        served = sorted({r.model for r in catalog.recipes if (r.accelerator, r.engine) ==
                         (config.accelerator, config.engine)})
        problems.append(("model", f"no recipe serves {config.model!r} with {config.engine} on "
                                  f"{config.accelerator}; models with one: {', '.join(served) or 'none'}"))
    return None


def validated_host(host: str, data: dict[str, Any], catalog: Catalog) -> tuple[HostConfig, Recipe]:
    problems = data_problems(data, set(HostConfig.model_fields), ROLE_PREFIXES)
    if problems:
        # The shape first: what pydantic would say of a refused value (or a key it ignores) adds nothing.
        refused = {field for field, _ in problems}
        try:
            HostConfig.model_validate({key: value for key, value in data.items() if key not in refused})
        except ValidationError as error:
            problems += [problem for problem in _pydantic_problems(error) if problem[0] not in refused]
        raise HostDataError(host, problems)
    try:
        config = HostConfig.model_validate(data)
    except ValidationError as error:
        raise HostDataError(host, _pydantic_problems(error)) from None
    problems += _secret_problems(config)
    if config.accelerator not in catalog.accelerators:
        problems.append(_choice("accelerator", config.accelerator, list(catalog.accelerators)))
    if config.model not in catalog.models:
        problems.append(_choice("model", config.model, list(catalog.models)))
    if config.engine not in catalog.engines:
        problems.append(_choice("engine", config.engine, list(catalog.engines)))
    if problems:
        raise HostDataError(host, problems)
    accelerator = catalog.accelerators[config.accelerator]
    if config.engine not in accelerator.engines:
        raise HostDataError(host, [("engine", f"{config.engine!r} cannot run on accelerator "
                                              f"{config.accelerator!r}; allowed: {', '.join(accelerator.engines)}")])
    problems += value_problems(config, catalog)  # each value's shape (glmstack/values.py)
    recipe = _recipe_for(config, catalog, problems)
    if recipe is None:
        raise HostDataError(host, problems)
    problems += compatibility_problems(config, catalog, recipe)
    if not problems:
        problems += extra_flag_problems(config, catalog, recipe)
    if problems:
        raise HostDataError(host, problems)
    return config, recipe
