#include "cmd/service.hpp"

#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <cstdio>
#include <cstdlib>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace ecifs::service {

void notify(const std::string& state) {
    // 0: keep $NOTIFY_SOCKET, so a helper re-executed later could still be told apart.
    ::sd_notify(0, state.c_str());
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
