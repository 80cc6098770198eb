#include "handlers/view.hpp"

#include <cerrno>
#include <exception>

#include <spdlog/spdlog.h>

#include "emulation/container.hpp"
#include "sys/log_limit.hpp"

namespace ecifs::handlers {

int with_view(const Context& ctx, std::string_view path, const std::function<int(const ContainerView&)>& body) {
    try {
        const auto init = ctx.container.init();
        if (!init) return EIO;  // not started: there is no cgroup to show yet
        return body({ctx.container, *init, init->cgroup, ctx.container.host(), ctx.caller});
    } catch (const std::exception& e) {
        sys::log_limited(spdlog::level::err, ctx.container.id(), path, "container {}: /{}: {}",
                         ctx.container.id(), path, e.what());
        return EIO;
    }
}

}  // namespace ecifs::handlers
