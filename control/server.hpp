#pragma once
// The daemon's side of the control socket (protocol: control/protocol.hpp). Each
// connection reads one line at a time, answers it, and reads the next; a bad line
// gets an error reply and harms nobody else. Connections are capped, and one that
// neither sends nor takes anything for `idle_timeout` is closed: the socket is open to
// every user, who must not be able to hold the daemon's descriptors.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <nlohmann/json.hpp>

#include "control/fd_passing.hpp"
#include "control/unix_listener.hpp"

namespace ecifs::control {

struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
};

class Connection;

// A reply, and a descriptor that goes along with it (SCM_RIGHTS) when there is one.
struct Answer {
    nlohmann::json body;
    sys::Fd fd;
};

// One line to send, and the descriptor that goes with its first byte, if any.
struct ReplyLine {
    std::string text;
    sys::Fd fd;
};

struct ServerLimits {
    std::size_t max_connections = 256;
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
};

class Server {
public:
    // Answers one well-formed request from a root peer; throws std::exception to
    // reply {"ok":false,"error":what()}.
    using Handler = std::function<Answer(const nlohmann::json& request, const Peer& peer)>;

    // Binds and listens now, so errors reach the shell before the daemon detaches.
    // Refuses to start if another daemon answers on the path; removes a stale socket.
    Server(boost::asio::io_context& io, std::filesystem::path socket_path, Handler handler,
           ServerLimits limits = {});
    ~Server();

    void start();
    // Stop accepting, close every connection and remove the socket file.
    void stop();

    // Answer one request line: parse, check the peer, dispatch. Never throws.
    ReplyLine answer(const std::string& line, const Peer& peer) const;
    void forget(const std::shared_ptr<Connection>& connection);
    const ServerLimits& limits() const { return limits_; }

private:
    void admit(boost::asio::local::stream_protocol::socket socket);

    boost::asio::io_context& io_;
    std::filesystem::path socket_path_;
    Handler handler_;
    ServerLimits limits_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    AcceptLoop accepting_;
    OpenConnections<Connection> connections_;
    std::chrono::steady_clock::time_point last_full_log_{};
};

}  // namespace ecifs::control
