// The listener's message parsed, apart from its socket: a pure function of the bytes
// and the number of fds that came with them (fuzz/seccomp_listener.cpp feeds it).
#include <sys/types.h>

#include <limits>
#include <stdexcept>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "seccomp/listener.hpp"

namespace ecifs::seccomp {

using nlohmann::json;

ListenerMessage parse_listener_message(std::string_view text, std::size_t fds_received) {
    const json message = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded() || !message.is_object()) throw std::invalid_argument("not a JSON object");
    if (!message.contains("fds") || !message["fds"].is_array())
        throw std::invalid_argument("no \"fds\" list naming the fds sent");
    const json& names = message["fds"];
    ListenerMessage out;
    bool found = false;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!names[i].is_string()) throw std::invalid_argument("\"fds\" holds a name that is not a string");
        if (names[i] == "seccompFd") {
            if (found) throw std::invalid_argument("\"fds\" names seccompFd twice");
            out.seccomp_fd = i;
            found = true;
        }
    }
    if (!found) throw std::invalid_argument("\"fds\" names no seccompFd");
    if (names.size() != fds_received)
        throw std::invalid_argument(fmt::format("\"fds\" names {} fds but {} came with it", names.size(), fds_received));
    if (!message.contains("state") || !message["state"].is_object() || !message["state"].contains("id") ||
        !message["state"]["id"].is_string() || message["state"]["id"].get<std::string>().empty())
        throw std::invalid_argument("no state.id naming the container");
    out.id = message["state"]["id"].get<std::string>();
    if (message.contains("pid")) {
        // A number past pid_t would be cut to another process's id.
        if (!message["pid"].is_number_unsigned() ||
            message["pid"].get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<pid_t>::max()))
            throw std::invalid_argument("\"pid\" is not a process id");
        out.pid = static_cast<pid_t>(message["pid"].get<uint64_t>());
    }
    if (message.contains("ociVersion") && message["ociVersion"].is_string())
        out.oci_version = message["ociVersion"].get<std::string>();
    return out;
}

}  // namespace ecifs::seccomp
