"""glmstack.quoting, function by function: what each syntax's own parser reads back, and what each
refuses. systemd's functions are checked with systemd's parser (systemd --test), on values no host
data shape limits."""

from __future__ import annotations

import json

import pytest
from systemd_parse import parse_units

from glmstack.quoting import (
    Unrepresentable,
    apt_source_word,
    env_name,
    exec_line,
    exec_word,
    ini_value,
    json_text,
    nft_address,
    nft_identifier,
    nft_port,
    plain_shell_word,
    shell_word,
    unit_environment,
    unit_list,
    unit_setting,
)

ODD = ['two words', 'say "hi"', "it's", "100% %n %% %i %h", "$HOME ${PATH} $$ $", "back\\slash", ";", "#c",
       "ünïcødé ✓", "`id`", "x\\", "\\n", "=", "-dash", "+plus", "@at", "!bang", "a;b"]


def test_systemd_reads_every_function_back_exactly():
    description = "glmstack 100% %n %h \"quoted\" 'single' \\back ünï ; #not a comment"
    directory = "/srv/odd dir/100%/ünï/'q'/\"dq\""
    paths = ["/srv/a b", '/srv/q"x', "/srv/100%", "/srv/back\\slash", "/srv/ünï", "/srv/'s'"]
    env = 'x "y" $z ${w} `id` \\ %p ; # c \' ünï'
    unit = "\n".join([
        "[Unit]",
        f"Description={unit_setting(description)}",
        "[Service]",
        f"WorkingDirectory={unit_setting(directory)}",
        f"ReadWritePaths={unit_list(paths)}",
        f"Environment={unit_environment('GLMSTACK_ODD', env)}",
        f"Environment={unit_environment('GLMSTACK_PLAIN', 'plain')}",
        f"ExecStart={exec_line(['/usr/bin/printf', *ODD])}",
        "",
    ])
    got = parse_units({"odd.service": unit})["odd.service"]
    assert got.settings["Description"] == [description]
    assert got.settings["WorkingDirectory"] == [directory]
    assert got.settings["ReadWritePaths"] == [" ".join(paths)]
    assert got.settings["Environment"] == [f"GLMSTACK_ODD={env}", "GLMSTACK_PLAIN=plain"]
    assert got.argv() == [["/usr/bin/printf", *ODD]]


@pytest.mark.parametrize("word", ["x\n", "x\nExecStartPre=+/bin/sh", "\n", "x\r", "x\x00", "x\x1b", "x\u2028"])
def test_a_word_ending_in_or_holding_a_control_character_is_refused(word):
    # The old pattern (^...$ with re.match) took "x\n" for a plain word: $ matches before a final newline.
    with pytest.raises(Unrepresentable, match="control character"):
        exec_word(word, "extra_flags")


@pytest.mark.parametrize("value", ["trailing\\", " leading", "trailing ", "a\nb"])
def test_a_unit_setting_systemd_would_change_is_refused(value):
    with pytest.raises(Unrepresentable):
        unit_setting(value, "served_model_name")


def test_the_field_is_named_in_the_error():
    with pytest.raises(Unrepresentable) as error:
        exec_word("a\nb", "extra_flags")
    assert error.value.field == "extra_flags" and str(error.value).startswith("field extra_flags: 'a\\nb' holds")
    assert "\n" not in str(error.value)


def test_a_url_in_an_error_hides_its_user_and_password():
    with pytest.raises(Unrepresentable) as error:
        ini_value("http://me:s3cret@proxy:3128/$x", "base_http_proxy")
    assert "s3cret" not in str(error.value) and "//***@proxy" in str(error.value)


def test_a_command_must_start_with_an_absolute_path():
    with pytest.raises(Unrepresentable):
        exec_line(["-/bin/sh", "-c", "x"])


@pytest.mark.parametrize("name", ["A B", "A=B", "1A", "", "A-B", "A\nB", "Ä"])
def test_an_environment_name_must_be_a_name(name):
    with pytest.raises(Unrepresentable):
        env_name(name, "extra_env")


def test_nftables_values_are_addresses_ports_and_names_only():
    assert nft_address("10.0.0.1") == "10.0.0.1" and nft_address("fd00::1") == "fd00::1"
    assert nft_address("10.0.0.0/8") == "10.0.0.0/8" and nft_port("6379-6385") == "6379-6385"
    for bad in ("10.0.0.1 } accept; tcp dport 22", "host.lab.example", "10.0.0.1\n"):
        with pytest.raises(Unrepresentable):
            nft_address(bad, "address")
    for bad in ("0", "65536", "22 } accept", "10-5", True):
        with pytest.raises(Unrepresentable):
            nft_port(bad, "port")
    with pytest.raises(Unrepresentable):
        nft_identifier("glmstack x")


def test_package_manager_values():
    assert ini_value("http://proxy:3128/a b;c#d") == "http://proxy:3128/a b;c#d"
    with pytest.raises(Unrepresentable, match=r"\$"):
        ini_value("http://mirror/$basearch", "nvidia_repo_url")
    for bad in ("http://m/a b", "http://m/[x]", "http://m/#x", ""):
        with pytest.raises(Unrepresentable):
            apt_source_word(bad, "nvidia_repo_url")


def test_shell_words():
    assert shell_word("plain") == "plain" and shell_word("it's") == "'it'\"'\"'s'"
    assert plain_shell_word("iommu=pt") == "iommu=pt"
    for bad in ("a b", "$(id)", 'a"b', "`id`"):
        with pytest.raises(Unrepresentable):
            plain_shell_word(bad)
    with pytest.raises(Unrepresentable):
        shell_word("a\nb")


def test_json_text_escapes_everything_json_needs():
    value = {"a": 'x"\n\\\u2028ü', "b": [1, True, None]}
    text = json_text(value)
    assert json.loads(text) == value and text.isascii() and "\n" not in text
