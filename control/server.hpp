#pragma once
// The daemon's side of the control socket (protocol: control/protocol.hpp). Each
// connection reads one line at a time, answers it, and reads the next; a bad line
// gets an error reply and harms nobody else.
#include <sys/types.h>

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

class Server {
public:
    // Answers one well-formed request from a root peer; throws std::exception to
    // reply {"ok":false,"error":what()}.
    using Handler = std::function<Answer(const nlohmann::json& request, const Peer& peer)>;

    // Binds and listens now, so errors reach the shell before the daemon detaches.
    // Refuses to start if another daemon answers on the path; removes a stale socket.
    Server(boost::asio::io_context& io, std::filesystem::path socket_path, Handler handler);
    ~Server();

    void start();
    // Stop accepting, close every connection and remove the socket file.
    void stop();

    // Answer one request line: parse, check the peer, dispatch. Never throws.
    ReplyLine answer(const std::string& line, const Peer& peer) const;
    void forget(const std::shared_ptr<Connection>& connection);

private:
    void accept_next();

    boost::asio::io_context& io_;
    std::filesystem::path socket_path_;
    Handler handler_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    OpenConnections<Connection> connections_;
};

}  // namespace ecifs::control
