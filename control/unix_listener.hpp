#pragma once
// Listening on a Unix stream socket at a fixed path, as the daemon's sockets do.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ecifs::control {

// Open `acceptor` on `path` with file mode `mode` and listen. A socket file left there
// by a daemon that died is replaced; one that another daemon still answers on is not
// (std::runtime_error saying so). The parent directory is made if need be.
void listen_at(boost::asio::io_context& io, boost::asio::local::stream_protocol::acceptor& acceptor,
               const std::filesystem::path& path, mode_t mode);

// Close `acceptor` and remove its socket file: nothing connects any more.
void stop_listening(boost::asio::local::stream_protocol::acceptor& acceptor, const std::filesystem::path& path);

// Accepting one connection after another on `acceptor`, each handed to `on_socket`.
// When the process is out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM),
// accepting pauses, 50 ms doubling up to 2 s, and the pause is logged once, instead of
// a retry at once that would spin a CPU and log a line per turn. Stops when the
// acceptor is closed.
class AcceptLoop {
public:
    using OnSocket = std::function<void(boost::asio::local::stream_protocol::socket)>;
    AcceptLoop(boost::asio::io_context& io, boost::asio::local::stream_protocol::acceptor& acceptor,
               std::string name, OnSocket on_socket);
    void start();
    // No accepting after a pause: call from the thread that closes the acceptor.
    void stop() { pause_timer_.cancel(); }

private:
    void accept_next();
    void pause(const boost::system::error_code& ec);

    boost::asio::local::stream_protocol::acceptor& acceptor_;
    std::string name_;
    OnSocket on_socket_;
    boost::asio::steady_timer pause_timer_;
    std::chrono::milliseconds pause_{0};
};

// What OpenConnections::add did with a connection.
enum class Admission { admitted, full, stopped };

// The connections a listener holds open (Connection has close()), at most `limit` at
// once, all closed when it stops; a connection accepted after that is refused.
// Thread-safe.
template <typename Connection>
class OpenConnections {
public:
    explicit OpenConnections(std::size_t limit) : limit_(limit) {}

    // Anything but `admitted`: the caller drops the connection.
    Admission add(const std::shared_ptr<Connection>& connection) {
        std::lock_guard lock(mutex_);
        if (stopped_) return Admission::stopped;
        if (open_.size() >= limit_) return Admission::full;
        open_.insert(connection);
        return Admission::admitted;
    }
    void forget(const std::shared_ptr<Connection>& connection) {
        connection->close();
        std::lock_guard lock(mutex_);
        open_.erase(connection);
    }
    // Close every connection. False if it was stopped already.
    bool stop() {
        std::set<std::shared_ptr<Connection>> open;
        {
            std::lock_guard lock(mutex_);
            if (stopped_) return false;
            stopped_ = true;
            open.swap(open_);
        }
        for (const auto& connection : open) connection->close();
        return true;
    }
    std::size_t limit() const { return limit_; }

private:
    const std::size_t limit_;
    std::mutex mutex_;
    std::set<std::shared_ptr<Connection>> open_;
    bool stopped_ = false;
};

}  // namespace ecifs::control
