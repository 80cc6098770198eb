// A mount's request figures (fs/request_stats.hpp) and their Prometheus text
// (control/prometheus.hpp).
#include "fs/request_stats.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "control/prometheus.hpp"

namespace ecifs::fs {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogram, QuantilesAreTheUpperBoundOfTheirQuarterOctave) {
    LatencyHistogram h;
    for (int i = 0; i < 98; ++i) h.add(microseconds(100));
    h.add(microseconds(10'000));
    h.add(microseconds(10'000));
    EXPECT_EQ(h.count(), 100u);
    // 100 µs lies in [2^6.5, 2^6.75): 90.5 .. 107.6 µs.
    EXPECT_NEAR(h.quantile_us(0.5), 107.6, 0.1);
    EXPECT_NEAR(h.quantile_us(0.98), 107.6, 0.1);
    EXPECT_GE(h.quantile_us(0.99), 10'000);
    EXPECT_LT(h.quantile_us(0.99), 10'000 * 1.19);
    EXPECT_NEAR(h.sum_seconds(), 0.0298, 1e-9);
}

TEST(LatencyHistogram, EmptyAndExtremes) {
    LatencyHistogram h;
    EXPECT_EQ(h.quantile_us(0.5), 0);
    h.add(std::chrono::nanoseconds(10));  // under 1 µs: the first bucket
    h.add(std::chrono::hours(1));         // past the last: the last
    EXPECT_NEAR(h.quantile_us(0.5), 1.19, 0.01);
    EXPECT_GE(h.quantile_us(1.0), 67e6);
}

TEST(RequestStats, CountsPerInodeAndKindWithErrors) {
    RequestStats stats;
    const auto t = RequestStats::Clock::now();
    stats.record(5, RequestKind::open, t, 0);
    stats.record(5, RequestKind::open, t, 0);
    stats.record(5, RequestKind::write, t, EINVAL);
    stats.record(7, RequestKind::open, t, ENOENT);
    const auto rows = stats.rows();
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].ino, 5u);
    EXPECT_EQ(rows[0].kind, RequestKind::open);
    EXPECT_EQ(rows[0].figures.answered, 2u);
    EXPECT_EQ(rows[0].figures.errors, 0u);
    EXPECT_EQ(rows[1].figures.errors, 1u);
    EXPECT_STREQ(kind_name(rows[1].kind), "write");
    EXPECT_EQ(rows[2].figures.errors, 1u);
}

TEST(RequestStats, RowsAreCappedAndTheRestCountedTogether) {
    // Run-time inodes are never reused: a container making names without end must not
    // grow the table without end.
    RequestStats stats;
    const auto t = RequestStats::Clock::now();
    for (fuse_ino_t ino = 1; ino <= RequestStats::max_rows + 500; ++ino) stats.record(ino, RequestKind::open, t, 0);
    stats.record(1, RequestKind::open, t, 0);  // a row kept goes on counting
    const auto rows = stats.rows();
    ASSERT_EQ(rows.size(), RequestStats::max_rows + 1);
    EXPECT_EQ(rows.front().ino, RequestStats::others);
    EXPECT_EQ(rows.front().figures.answered, 500u);
    EXPECT_EQ(rows[1].ino, 1u);
    EXPECT_EQ(rows[1].figures.answered, 2u);
}

}  // namespace
}  // namespace ecifs::fs

namespace ecifs::control {
namespace {

nlohmann::json a_stats_reply() {
    return nlohmann::json::parse(R"({
      "daemon": {"rss_bytes": 7340032, "fds": 12, "threads": 3, "uptime_seconds": 61.5},
      "containers": [{
        "id": "web\"1",
        "views": [{"path": "/proc/meminfo", "answered": 4, "errors": 0, "p50_us": 90.5, "p99_us": 128, "seconds": 0.0004,
                   "requests": {"open": {"answered": 2, "errors": 0, "p50_us": 90.5, "p99_us": 128, "seconds": 0.0003},
                                "read": {"answered": 2, "errors": 1, "p50_us": 45.25, "p99_us": 64, "seconds": 0.0001}}}],
        "open_files": 1, "open_dirs": 0, "namespace_executors": 2, "seccomp_notify_fds": 1,
        "trapped_calls": {"answered": 5, "continued": 0, "failed": 0}}]})");
}

TEST(Prometheus, EveryFigureIsASampleUnderItsFamily) {
    const std::string text = prometheus_text(a_stats_reply());
    auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
    EXPECT_TRUE(has("# TYPE ecifs_daemon_rss_bytes gauge"));
    EXPECT_TRUE(has("ecifs_daemon_rss_bytes 7340032"));
    EXPECT_TRUE(has("ecifs_daemon_uptime_seconds 61.5"));
    // The container id's quote is escaped in the label.
    EXPECT_TRUE(has(R"(ecifs_requests_total{container="web\"1",view="/proc/meminfo",kind="open"} 2)"));
    EXPECT_TRUE(has(R"(ecifs_request_errors_total{container="web\"1",view="/proc/meminfo",kind="read"} 1)"));
    EXPECT_TRUE(has("# TYPE ecifs_request_duration_seconds summary"));
    EXPECT_TRUE(has(R"(ecifs_request_duration_seconds{container="web\"1",view="/proc/meminfo",kind="open",quantile="0.99"} 0.000128)"));
    EXPECT_TRUE(has(R"(ecifs_request_duration_seconds_count{container="web\"1",view="/proc/meminfo",kind="read"} 2)"));
    EXPECT_TRUE(has(R"(ecifs_trapped_calls_total{container="web\"1",result="answered"} 5)"));
    EXPECT_TRUE(has(R"(ecifs_namespace_executors{container="web\"1"} 2)"));
    // One HELP and one TYPE per family, before its samples.
    EXPECT_EQ(text.find("# TYPE ecifs_requests_total"), text.rfind("# TYPE ecifs_requests_total"));
    EXPECT_LT(text.find("# TYPE ecifs_requests_total"), text.find("ecifs_requests_total{"));
}

TEST(Prometheus, NotAStatsReplyIsAnError) {
    EXPECT_THROW(prometheus_text(nlohmann::json{{"containers", nlohmann::json::array()}}), std::invalid_argument);
    EXPECT_THROW(prometheus_text(nlohmann::json::parse(R"({"daemon": {}, "containers": [{"id": "x"}]})")),
                 std::invalid_argument);
}

}  // namespace
}  // namespace ecifs::control
