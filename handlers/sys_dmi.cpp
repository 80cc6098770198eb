// /sys/devices/virtual/dmi/id/product_uuid: software that licenses or identifies a
// machine reads it (mode 0400). Each container gets its own, fixed for its life.
#include "emulation/container.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"

namespace ecifs::handlers {

int show_product_uuid(const Context& ctx, std::string& out) {
    out = ctx.container.own_values().get_or_insert("/sys/devices/virtual/dmi/id/product_uuid", random_uuid);
    return 0;
}

}  // namespace ecifs::handlers
