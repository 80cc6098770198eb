#include "control/unix_listener.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

namespace ecifs::control {

using boost::asio::local::stream_protocol;

namespace {

bool another_daemon_answers(boost::asio::io_context& io, const std::filesystem::path& path) {
    stream_protocol::socket probe(io);
    boost::system::error_code ec;
    probe.connect(stream_protocol::endpoint(path.string()), ec);
    return !ec;
}

}  // namespace

void listen_at(boost::asio::io_context& io, stream_protocol::acceptor& acceptor, const std::filesystem::path& path,
               mode_t mode) {
    std::filesystem::create_directories(path.parent_path());
    if (std::filesystem::exists(std::filesystem::symlink_status(path))) {
        if (another_daemon_answers(io, path))
            throw std::runtime_error(fmt::format("another ecifs daemon is already listening on {}", path.string()));
        std::filesystem::remove(path);
    }
    stream_protocol::endpoint endpoint(path.string());
    acceptor.open(endpoint.protocol());
    acceptor.bind(endpoint);
    ::chmod(path.c_str(), mode);
    acceptor.listen();
}

void stop_listening(stream_protocol::acceptor& acceptor, const std::filesystem::path& path) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    std::error_code not_there;
    std::filesystem::remove(path, not_there);
}

AcceptLoop::AcceptLoop(boost::asio::io_context& io, stream_protocol::acceptor& acceptor, std::string name,
                       OnSocket on_socket)
    : acceptor_(acceptor), name_(std::move(name)), on_socket_(std::move(on_socket)), pause_timer_(io) {}

void AcceptLoop::start() { accept_next(); }

void AcceptLoop::accept_next() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, stream_protocol::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (!ec) {
            if (pause_.count() > 0) spdlog::info("{}: accepting again", name_);
            pause_ = {};
            on_socket_(std::move(socket));
            return accept_next();
        }
        const int err = ec.value();
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) return pause(ec);
        spdlog::warn("{}: accept: {}", name_, ec.message());
        accept_next();
    });
}

void AcceptLoop::pause(const boost::system::error_code& ec) {
    constexpr std::chrono::milliseconds first{50}, longest{2000};
    if (pause_.count() == 0) spdlog::warn("{}: accept: {}; pausing (logged once until it accepts again)", name_, ec.message());
    pause_ = pause_.count() == 0 ? first : std::min(pause_ * 2, longest);
    pause_timer_.expires_after(pause_);
    pause_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec) accept_next();
    });
}

}  // namespace ecifs::control
