#include "handlers/view.hpp"

#include <cerrno>
#include <exception>

#include <spdlog/spdlog.h>

#include "emulation/container.hpp"

namespace ecifs::handlers {

int with_view(const Context& ctx, std::string_view path, const std::function<int(const ContainerView&)>& body) {
    try {
        const auto init = ctx.container.init();
        if (!init) return EIO;  // not started: there is no cgroup to show yet
        return body({ctx.container, *init, init->cgroup, ctx.container.host(), ctx.caller});
    } catch (const std::exception& e) {
        spdlog::error("/{}: {}", path, e.what());
        return EIO;
    }
}

}  // namespace ecifs::handlers
