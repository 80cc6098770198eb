#include "cmd/service.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace ecifs::service {

// The protocol of sd_notify(3), which systemd documents for programs to speak without
// libsystemd: the state as one datagram to the AF_UNIX socket $NOTIFY_SOCKET names (a
// leading '@' is the abstract namespace). libsystemd would add a megabyte of resident
// libraries (it and libgcrypt, liblz4, liblzma, libzstd) to a daemon of seven.
void notify(const std::string& state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@')) return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const size_t length = std::strlen(path);
    if (length >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, path, length);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
    (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), size);
    ::close(fd);
}

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (!stream) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st{};
    if (::fstat(2, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

ReopenableFileSink::ReopenableFileSink(const std::string& path) { file_.open(path, false); }

void ReopenableFileSink::reopen() {
    std::lock_guard lock(mutex_);
    file_.reopen(false);  // append: a file logrotate left in place (copytruncate) keeps its lines
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    file_.write(formatted);
}

void ReopenableFileSink::flush_() { file_.flush(); }

namespace {

// "<N>" before a line: the syslog priority journald files it under (sd-daemon(3)).
class SyslogPriority final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        static constexpr char priority[] = {'7', '7', '6', '4', '3', '2', '6'};  // trace .. critical, off
        const char text[] = {'<', priority[static_cast<int>(msg.level)], '>'};
        dest.append(text, text + sizeof text);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SyslogPriority>(); }
};

}  // namespace

std::shared_ptr<spdlog::logger> foreground_logger() {
    auto logger = spdlog::stderr_logger_mt("ecifs");
    if (stderr_is_journal()) {
        auto formatter = std::make_unique<spdlog::pattern_formatter>();
        formatter->add_flag<SyslogPriority>('*').set_pattern("%*%v");
        logger->set_formatter(std::move(formatter));
    }
    return logger;
}

std::shared_ptr<spdlog::logger> file_logger(const std::shared_ptr<ReopenableFileSink>& sink) {
    auto logger = std::make_shared<spdlog::logger>("ecifs", sink);
    spdlog::register_logger(logger);
    return logger;
}

}  // namespace ecifs::service
