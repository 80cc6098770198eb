#include "control/server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "control/protocol.hpp"
#include "control/unix_listener.hpp"

namespace ecifs::control {

using boost::asio::local::stream_protocol;

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server& server, stream_protocol::socket socket) : server_(server), socket_(std::move(socket)) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
            peer_ = Peer{cred.pid, cred.uid};
        else
            peer_ = Peer{0, static_cast<uid_t>(-1)};
    }

    void start() { read_next(); }
    void close() {
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

private:
    void read_next() {
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
    stream_protocol::socket socket_;
    Peer peer_;
    std::string input_, output_;
    sys::Fd passing_;
};

Server::Server(boost::asio::io_context& io, std::filesystem::path socket_path, Handler handler)
    : io_(io), socket_path_(std::move(socket_path)), handler_(std::move(handler)), acceptor_(io) {
    // Anyone may connect; only root peers are served (SO_PEERCRED), and the others are
    // told why instead of seeing a bare EACCES.
    listen_at(io, acceptor_, socket_path_, 0666);
}

Server::~Server() { stop(); }

void Server::start() { accept_next(); }

void Server::accept_next() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, stream_protocol::socket socket) {
        if (ec == boost::asio::error::operation_aborted) return;
        if (!ec) {
            auto connection = std::make_shared<Connection>(*this, std::move(socket));
            if (!connections_.add(connection)) return;
            connection->start();
        } else {
            spdlog::warn("control socket: accept: {}", ec.message());
        }
        accept_next();
    });
}

void Server::forget(const std::shared_ptr<Connection>& connection) { connections_.forget(connection); }

void Server::stop() {
    if (connections_.stop()) stop_listening(acceptor_, socket_path_);
}

ReplyLine Server::answer(const std::string& line, const Peer& peer) const {
    // Replies may quote the request's bytes: never let invalid UTF-8 throw.
    auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
    auto error = [&](const std::string& message) { return ReplyLine{dump({{"ok", false}, {"error", message}}), {}}; };
    if (peer.uid != 0) {
        spdlog::warn("control socket: refused a request from uid {} (pid {})", peer.uid, peer.pid);
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
