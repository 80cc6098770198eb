#pragma once
// The socket runtimes hand seccomp notify fds to: the OCI runtime spec's
// linux.seccomp.listenerPath protocol. Per connection the runtime sends the container
// process state (JSON: ociVersion, fds, pid, metadata, state{id, pid, ...}) with the fds
// it names over SCM_RIGHTS, then closes. runc 1.1 connects once per create/run and
// once per exec; crun sends pretty-printed JSON and may connect without sending anything.
//
// The state's id names the container (it must be one the daemon prepared); exactly the
// fd named "seccompFd" is kept, and only if it is a seccomp listener; every other fd is
// closed. A malformed message is logged and dropped, and the socket keeps serving. Only
// root peers are served (SO_PEERCRED).
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "control/unix_listener.hpp"
#include "seccomp/trapper.hpp"

namespace ecifs::seccomp {

struct ListenerMessage {
    std::string id;           // state.id: the container
    pid_t pid = 0;            // the process the filter was made for (0 if not said)
    std::string oci_version;  // as the runtime wrote it
    std::size_t seccomp_fd = 0;  // index of "seccompFd" among the fds received
};
// Parse one message that came with `fds_received` fds. Throws std::invalid_argument
// saying what is wrong.
ListenerMessage parse_listener_message(std::string_view text, std::size_t fds_received);

class ListenerConnection;

class SeccompListener {
public:
    using Lookup = std::function<std::optional<TrapTarget>(const std::string& id)>;

    // Binds and listens now (errors reach the shell); refuses if another daemon answers
    // on the path, removes a stale socket. Throws.
    SeccompListener(boost::asio::io_context& io, std::filesystem::path path, Lookup lookup, SeccompTrapper& trapper);
    ~SeccompListener();

    void start();
    // Stop accepting, drop open connections, remove the socket file.
    void stop();

    const std::filesystem::path& path() const { return path_; }

    // Called by a connection once it has its whole message.
    void deliver(std::string_view text, std::vector<int>& fds, bool truncated);
    void forget(const std::shared_ptr<ListenerConnection>& connection);

private:
    void admit(boost::asio::local::stream_protocol::socket socket);

    boost::asio::io_context& io_;
    std::filesystem::path path_;
    Lookup lookup_;
    SeccompTrapper& trapper_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    control::AcceptLoop accepting_;
    control::OpenConnections<ListenerConnection> connections_;
};

}  // namespace ecifs::seccomp
