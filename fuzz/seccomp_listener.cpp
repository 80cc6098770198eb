// The seccomp listener's messages (seccomp/listener.cpp): a runtime's container state
// (runc's compact JSON, crun's pretty-printed one) arriving in pieces with its fds
// (SCM_RIGHTS). The input's first byte is the number of fds that came with the message
// (mod 20: past the listener's limit of 16 too); the rest is the bytes, delivered in
// pieces cut at each 0x1e byte (a record separator no runtime sends). As the listener
// does, the message ends at the first piece after which the text is a whole JSON value,
// or at the last piece; then it is parsed against the count of fds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "seccomp/listener.hpp"

namespace sc = ecifs::seccomp;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

std::string assemble(std::string_view bytes) {
    std::string text;
    while (!bytes.empty()) {
        const auto cut = bytes.find('\x1e');
        text.append(bytes.substr(0, cut));
        bytes.remove_prefix(cut == std::string_view::npos ? bytes.size() : cut + 1);
        if (nlohmann::json::accept(text)) break;
    }
    return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t fds = data[0] % 20;
    const std::string text = assemble(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
    try {
        const sc::ListenerMessage m = sc::parse_listener_message(text, fds);
        // What the daemon relies on: the fd it keeps is one that came, the container is named.
        check(m.seccomp_fd < fds);
        check(!m.id.empty());
        check(m.pid >= 0);
    } catch (const std::invalid_argument&) {
    }
    return 0;
}
