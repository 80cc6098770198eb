#pragma once
// Reads a registry file as the FUSE core does: its row's show function run through
// with_view() (so "not started" and exceptions map to EIO as they do when mounted).
#include <string>
#include <string_view>

#include "handlers/handler.hpp"

namespace ecifs::handlers {

inline int read_view(std::string_view path, const Context& ctx, std::string& out) {
    for (const auto& file : file_table())
        if (file.path == path) return file.read(ctx, out);
    return ENOENT;
}

}  // namespace ecifs::handlers
