#pragma once
// Listening on a Unix stream socket at a fixed path, as the daemon's sockets do.
#include <sys/types.h>

#include <filesystem>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

namespace ecifs::control {

// Open `acceptor` on `path` with file mode `mode` and listen. A socket file left there
// by a daemon that died is replaced; one that another daemon still answers on is not
// (std::runtime_error saying so). The parent directory is made if need be.
void listen_at(boost::asio::io_context& io, boost::asio::local::stream_protocol::acceptor& acceptor,
               const std::filesystem::path& path, mode_t mode);

}  // namespace ecifs::control
