// llama-server's own argument parser, without the server: the conformance tier's check of every
// llama-server command line the catalog renders (tests/conformance/test_conformance.py).
//   llama-parse-args env            every environment variable llama-server's options read, one a line
//   llama-parse-args parse ARGS...  common_params_parse(ARGS, LLAMA_EXAMPLE_SERVER), exactly as
//                                   llama-server's main calls it; exit 0 and "parsed" when it accepts them
#include "arg.h"
#include "common.h"

#include <cstdio>
#include <cstring>

int main(int argc, char ** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "env") == 0) {
        common_params params;
        auto ctx = common_params_parser_init(params, LLAMA_EXAMPLE_SERVER, nullptr);
        for (const auto & opt : ctx.options) {
            if (opt.env != nullptr) {
                std::printf("%s\n", opt.env);
            }
        }
        return 0;
    }
    if (argc >= 2 && std::strcmp(argv[1], "parse") == 0) {
        // argv[1] stands where llama-server's own program name is.
        common_params params;
        if (!common_params_parse(argc - 1, argv + 1, params, LLAMA_EXAMPLE_SERVER)) {
            std::fprintf(stderr, "rejected\n");
            return 1;
        }
        std::printf("parsed: model %s, alias %zu, ctx %d, parallel %d, port %d\n", params.model.path.c_str(),
                    params.model_alias.size(), params.n_ctx, params.n_parallel, params.port);
        return 0;
    }
    std::fprintf(stderr, "usage: %s env | parse ARGS...\n", argv[0]);
    return 2;
}
