#pragma once
// Listening on a Unix stream socket at a fixed path, as the daemon's sockets do.
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace ecifs::control {

// Open `acceptor` on `path` with file mode `mode` and listen. A socket file left there
// by a daemon that died is replaced; one that another daemon still answers on is not
// (std::runtime_error saying so). The parent directory is made if need be.
void listen_at(boost::asio::io_context& io, boost::asio::local::stream_protocol::acceptor& acceptor,
               const std::filesystem::path& path, mode_t mode);

// Close `acceptor` and remove its socket file: nothing connects any more.
void stop_listening(boost::asio::local::stream_protocol::acceptor& acceptor, const std::filesystem::path& path);

// The connections a listener holds open (Connection has close()), all closed when it
// stops; a connection accepted after that is refused. Thread-safe.
template <typename Connection>
class OpenConnections {
public:
    // False once stopped: the caller drops the connection.
    bool add(const std::shared_ptr<Connection>& connection) {
        std::lock_guard lock(mutex_);
        if (stopped_) return false;
        open_.insert(connection);
        return true;
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

private:
    std::mutex mutex_;
    std::set<std::shared_ptr<Connection>> open_;
    bool stopped_ = false;
};

}  // namespace ecifs::control
