#pragma once
// What the daemon does for the service manager and the operator's log tools:
// readiness and stopping told to systemd (sd_notify), log lines journald files under
// their level when stderr is the journal, and a log file that logrotate can move away
// (reopened on SIGHUP). Without systemd each of these is a no-op.
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/details/file_helper.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

namespace ecifs::service {

// "READY=1", "STOPPING=1", "STATUS=...": to $NOTIFY_SOCKET, if systemd set one; a
// failure to send is ignored, as sd_notify's is.
void notify(const std::string& state);

// Whether stderr is the stream systemd connected to the journal ($JOURNAL_STREAM
// names its device and inode), so the journal already stamps time and unit.
bool stderr_is_journal();

// A log file that can be opened again under the same name (after logrotate moved it).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit ReopenableFileSink(const std::string& path);
    void reopen();

private:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override;
    spdlog::details::file_helper file_;
};

// The daemon's logger: stderr in the foreground (with "<N>" syslog priorities and no
// timestamp when that is the journal), else the file at log_file.
std::shared_ptr<spdlog::logger> foreground_logger();
std::shared_ptr<spdlog::logger> file_logger(const std::shared_ptr<ReopenableFileSink>& sink);

}  // namespace ecifs::service
