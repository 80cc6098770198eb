#include "control/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "control/protocol.hpp"
#include "control/unix_listener.hpp"
#include "sys/log_limit.hpp"

namespace ecifs::control {

using boost::asio::local::stream_protocol;

// A connection's socket and idle timer share a strand: the timer's expiry and the
// socket's completions never run at once.
class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server& server, boost::asio::io_context& io, stream_protocol::socket accepted)
        : server_(server),
          strand_(boost::asio::make_strand(io)),
          socket_(strand_, stream_protocol(), accepted.release()),
          idle_(strand_) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
            peer_ = Peer{cred.pid, cred.uid};
        else
            peer_ = Peer{0, static_cast<uid_t>(-1)};
    }

    void start() {
        boost::asio::post(strand_, [self = shared_from_this()] { self->read_next(); });
    }
    // From any thread.
    void close() {
        boost::asio::post(strand_, [self = shared_from_this()] {
            boost::system::error_code ignored;
            self->idle_.cancel();
            self->socket_.close(ignored);
        });
    }

private:
    // Waiting for the peer (to send a line, or to take a reply) restarts the clock.
    void wait_for_peer() {
        idle_.expires_after(server_.limits().idle_timeout);
        idle_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec) return;
            if (auto self = weak.lock()) {
                spdlog::debug("control socket: closed a connection idle for {} ms (pid {})",
                              self->server_.limits().idle_timeout.count(), self->peer_.pid);
                self->server_.forget(self);
            }
        });
    }

    void read_next() {
        wait_for_peer();
        boost::asio::async_read_until(
            socket_, boost::asio::dynamic_buffer(input_, max_message_bytes + 1), '\n',
            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) { self->on_line(ec, n); });
    }

    void on_line(const boost::system::error_code& ec, std::size_t n) {
        if (ec == boost::asio::error::not_found) {
            // The line outgrew the limit: refuse it and drop the connection.
            return reply({R"({"ok":false,"error":"request too large"})", {}}, /*then_close=*/true);
        }
        if (ec) return server_.forget(shared_from_this());
        std::string line = input_.substr(0, n - 1);
        input_.erase(0, n);
        reply(server_.answer(line, peer_), false);
    }

    void reply(ReplyLine line, bool then_close) {
        wait_for_peer();
        output_ = std::move(line.text) + "\n";
        passing_ = std::move(line.fd);
        if (passing_) return send_with_descriptor(then_close);
        write_from(0, then_close);
    }

    // The descriptor travels with the first bytes, sent here; the rest as any reply.
    void send_with_descriptor(bool then_close) {
        ssize_t n = send_with_fd(socket_.native_handle(), output_, passing_.get());
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            socket_.async_wait(stream_protocol::socket::wait_write,
                               [self = shared_from_this(), then_close](const boost::system::error_code& ec) {
                                   if (ec) return self->server_.forget(self);
                                   self->send_with_descriptor(then_close);
                               });
            return;
        }
        passing_.reset();  // sent along, or the peer is gone: ours is closed either way
        if (n < 0) return server_.forget(shared_from_this());
        write_from(static_cast<std::size_t>(n), then_close);
    }

    void write_from(std::size_t offset, bool then_close) {
        boost::asio::async_write(socket_, boost::asio::buffer(output_.data() + offset, output_.size() - offset),
                                 [self = shared_from_this(), then_close](const boost::system::error_code& ec, std::size_t) {
                                     if (ec || then_close) return self->server_.forget(self);
                                     self->read_next();
                                 });
    }

    Server& server_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    stream_protocol::socket socket_;
    boost::asio::steady_timer idle_;
    Peer peer_;
    std::string input_, output_;
    sys::Fd passing_;
};

Server::Server(boost::asio::io_context& io, std::filesystem::path socket_path, Handler handler, ServerLimits limits)
    : io_(io),
      socket_path_(std::move(socket_path)),
      handler_(std::move(handler)),
      limits_(limits),
      acceptor_(io),
      accepting_(io, acceptor_, "control socket", [this](stream_protocol::socket s) { admit(std::move(s)); }),
      connections_(limits.max_connections) {
    // Anyone may connect; only root peers are served (SO_PEERCRED), and the others are
    // told why instead of seeing a bare EACCES.
    listen_at(io, acceptor_, socket_path_, 0666);
}

Server::~Server() { stop(); }

void Server::start() { accepting_.start(); }

void Server::admit(stream_protocol::socket socket) {
    auto connection = std::make_shared<Connection>(*this, io_, std::move(socket));
    switch (connections_.add(connection)) {
    case Admission::admitted: return connection->start();
    case Admission::stopped: return;
    case Admission::full: {
        // Dropped (the socket closes with the connection); said at most once a minute.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_full_log_ >= std::chrono::minutes(1)) {
            last_full_log_ = now;
            spdlog::warn("control socket: {} connections open, the most allowed: new ones are closed",
                         connections_.limit());
        }
        return;
    }
    }
}

void Server::forget(const std::shared_ptr<Connection>& connection) { connections_.forget(connection); }

void Server::stop() {
    accepting_.stop();
    if (connections_.stop()) stop_listening(acceptor_, socket_path_);
}

ReplyLine Server::answer(const std::string& line, const Peer& peer) const {
    // Replies may quote the request's bytes: never let invalid UTF-8 throw.
    auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
    auto error = [&](const std::string& message) { return ReplyLine{dump({{"ok", false}, {"error", message}}), {}}; };
    if (peer.uid != 0) {
        // Any local user may connect: their lines are limited per uid.
        sys::log_limited(spdlog::level::warn, "control", std::to_string(peer.uid),
                         "control socket: refused a request from uid {} (pid {})", peer.uid, peer.pid);
        return error("permission denied: only root may use the ecifs control socket");
    }
    nlohmann::json request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object() || !request.contains("op") || !request["op"].is_string())
        return error("malformed request: expected a JSON object with a string \"op\"");
    try {
        Answer reply = handler_(request, peer);
        reply.body["ok"] = true;
        return {dump(reply.body), std::move(reply.fd)};
    } catch (const std::exception& e) {
        spdlog::info("control: {} refused: {}", request["op"].get<std::string>(), e.what());
        return error(e.what());
    }
}

}  // namespace ecifs::control
