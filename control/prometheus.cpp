#include "control/prometheus.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace ecifs::control {

namespace {

using nlohmann::json;

// A label value as the format quotes it: backslash, double quote and newline escaped.
std::string quoted(const std::string& value) {
    std::string out = "\"";
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        out += c == '\n' ? std::string("\\n") : std::string(1, c);
    }
    return out + "\"";
}

// The samples of one metric family, written together under its HELP and TYPE.
class Families {
public:
    void add(const std::string& name, const char* type, const char* help, const std::string& labels, double value) {
        auto& f = families_[name];
        if (f.lines.empty()) f.header = fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
        f.lines += fmt::format("{}{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", value);
        if (order_.empty() || std::find(order_.begin(), order_.end(), name) == order_.end()) order_.push_back(name);
    }
    // A line of a family added under another name (a summary's _count and _sum).
    void add_to(const std::string& family, const std::string& name, const std::string& labels, double value) {
        families_[family].lines += fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
    std::string text() const {
        std::string out;
        for (const auto& name : order_) out += families_.at(name).header + families_.at(name).lines;
        return out;
    }

private:
    struct Family {
        std::string header, lines;
    };
    std::map<std::string, Family> families_;
    std::vector<std::string> order_;
};

void add_daemon(Families& out, const json& d) {
    out.add("ecifs_daemon_rss_bytes", "gauge", "Resident memory of the ecifs daemon.", "", d.value("rss_bytes", 0.0));
    out.add("ecifs_daemon_fds", "gauge", "Descriptors the ecifs daemon holds.", "", d.value("fds", 0.0));
    out.add("ecifs_daemon_threads", "gauge", "Threads of the ecifs daemon.", "", d.value("threads", 0.0));
    out.add("ecifs_daemon_uptime_seconds", "gauge", "Seconds since the ecifs daemon started.", "",
            d.value("uptime_seconds", 0.0));
}

void add_requests(Families& out, const std::string& container, const json& view) {
    for (const auto& [kind, f] : view.at("requests").items()) {
        const auto labels = fmt::format("container={},view={},kind={}", quoted(container),
                                        quoted(view.at("path").get<std::string>()), quoted(kind));
        out.add("ecifs_requests_total", "counter", "FUSE requests answered, by container, file and kind.", labels,
                f.at("answered").get<double>());
        out.add("ecifs_request_errors_total", "counter", "FUSE requests answered with an errno.", labels,
                f.at("errors").get<double>());
    }
}

void add_latency(Families& out, const std::string& container, const json& latency) {
    const char* duration = "ecifs_request_duration_seconds";
    for (const auto& [kind, f] : latency.items()) {
        const auto labels = fmt::format("container={},kind={}", quoted(container), quoted(kind));
        out.add(duration, "summary", "Time from a FUSE request's start to its reply, by container and kind.",
                labels + ",quantile=\"0.5\"", f.at("p50_us").get<double>() / 1e6);
        out.add(duration, "summary", "", labels + ",quantile=\"0.99\"", f.at("p99_us").get<double>() / 1e6);
        out.add_to(duration, std::string(duration) + "_sum", labels, f.at("seconds").get<double>());
        out.add_to(duration, std::string(duration) + "_count", labels, f.at("answered").get<double>());
    }
}

void add_container(Families& out, const json& c) {
    const auto id = c.at("id").get<std::string>();
    const auto label = "container=" + quoted(id);
    for (const auto& view : c.at("views")) add_requests(out, id, view);
    add_latency(out, id, c.at("latency"));
    out.add("ecifs_open_files", "gauge", "Files of the container's views open now.", label,
            c.at("open_files").get<double>());
    out.add("ecifs_open_dirs", "gauge", "Directories of the container's views open now.", label,
            c.at("open_dirs").get<double>());
    out.add("ecifs_namespace_executors", "gauge", "Helper processes in the container's namespaces.", label,
            c.at("namespace_executors").get<double>());
    out.add("ecifs_seccomp_notify_fds", "gauge", "Seccomp notify fds served for the container.", label,
            c.at("seccomp_notify_fds").get<double>());
    for (const auto& [result, n] : c.at("trapped_calls").items())
        out.add("ecifs_trapped_calls_total", "counter", "Trapped syscalls, by how they were settled.",
                label + ",result=" + quoted(result), n.get<double>());
}

}  // namespace

std::string prometheus_text(const json& stats) {
    try {
        Families out;
        add_daemon(out, stats.at("daemon"));
        for (const auto& c : stats.at("containers")) add_container(out, c);
        return out.text();
    } catch (const json::exception& e) {
        throw std::invalid_argument(fmt::format("not a stats reply: {}", e.what()));
    }
}

}  // namespace ecifs::control
