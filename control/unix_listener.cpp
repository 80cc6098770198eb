#include "control/unix_listener.hpp"

#include <sys/stat.h>

#include <stdexcept>

#include <fmt/core.h>

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

}  // namespace ecifs::control
