// ecifs_bench: the measuring half of scripts/bench.sh (which sets everything up).
//
//   ecifs_bench read      --system NAME=ROOT[@PID]... [--file LABEL=REL...] [--quick] --out F.json
//       open + read to EOF + close of each file under each system's ROOT: median and p99
//       latency (one reader), and throughput with 1, 2 and 8 concurrent readers. The
//       systems are interleaved in rounds (a fresh random order per round and file), so
//       machine noise hits all of them alike. With @PID, the server's CPU time (user +
//       sys of every thread) is sampled around every batch and divided by the reads.
//   ecifs_bench lifecycle --socket S --pid P --daemon-pid D --ecifs-root DIR [--count 100] [--many 1000]
//       prepare + start (mount + register) and remove, one at a time over the control
//       socket; then `many` containers live at once: the daemon's RSS, fds, threads and
//       read latency. Everything it registers it removes.
//   ecifs_bench idle      --system NAME=ROOT@PID... [--seconds 5] --out F.json
//       each server's CPU time over an idle period.
//   ecifs_bench trap      --socket SECCOMP_SOCK --id ID [--daemon-pid D] [--quick] --out F.json
//       sysinfo(2) answered by ecifs's seccomp trapper against the native call, in
//       interleaved rounds: a child traps its own sysinfo (SECCOMP_FILTER_FLAG_NEW_LISTENER)
//       and hands the listener to the daemon as runc does (listenerPath protocol, naming
//       container ID), then times its calls; the parent times native calls.
//   ecifs_bench loop      --path P [--count N]
//       just read P N times (for strace -c / perf on a server).
//   ecifs_bench report    --in F.json... [--meta KEY=VALUE...] --markdown F.md --csv F.csv --json F.json
//       merge the results into the tables of BENCHMARKS.md and machine-readable copies.
//
// Performance is measured here, never asserted.
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- small helpers

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "ecifs_bench: %s\n", why.c_str());
    std::exit(1);
}

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// open + read to EOF + close, as `cat` does. Returns bytes read, or -errno.
long read_once(const char* path) {
    thread_local std::vector<char> buf(64 * 1024);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long total = 0;
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) total += n;
    int err = n < 0 ? errno : 0;
    ::close(fd);
    return err ? -err : total;
}

struct Stats {
    double median = 0, p99 = 0, mean = 0;
    size_t n = 0;
};

Stats stats_of(std::vector<uint64_t> v) {
    Stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.n = v.size();
    s.median = v.size() % 2 ? double(v[v.size() / 2]) : (double(v[v.size() / 2 - 1]) + double(v[v.size() / 2])) / 2;
    size_t k = static_cast<size_t>(std::ceil(0.99 * double(v.size()))) - 1;
    s.p99 = double(v[std::min(k, v.size() - 1)]);
    double sum = 0;
    for (auto x : v) sum += double(x);
    s.mean = sum / double(v.size());
    return s;
}

// ---------------------------------------------------------------- server CPU time

// A server's CPU time: per thread from /proc/PID/task/TID/schedstat (ns, exact), and
// for the whole process from /proc/PID/stat utime + stime (clock ticks, including
// threads that have exited). A delta uses the exact per-thread sum unless a thread
// disappeared in between; then the ticks.
struct CpuSample {
    std::map<long, uint64_t> thread_ns;
    uint64_t ticks_ns = 0;
    bool ok = false;
};

CpuSample sample_cpu(pid_t pid) {
    CpuSample s;
    if (pid <= 0) return s;
    std::string stat = read_text(fmt::format("/proc/{}/stat", pid));
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) return s;
    std::istringstream fields(stat.substr(close_paren + 2));
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.size() < 13) return s;
    // Fields after "(comm) ": state=0, ... utime = field 14 overall = index 11 here.
    static const double tick_ns = 1e9 / double(sysconf(_SC_CLK_TCK));
    s.ticks_ns = static_cast<uint64_t>((std::stoull(f[11]) + std::stoull(f[12])) * tick_ns);
    std::string dir = fmt::format("/proc/{}/task", pid);
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::string sched = read_text(dir + "/" + e->d_name + "/schedstat");
            if (sched.empty()) continue;
            s.thread_ns[std::atol(e->d_name)] = std::stoull(sched);
        }
        ::closedir(d);
    }
    s.ok = true;
    return s;
}

struct CpuDelta {
    double ns = 0;
    bool exact = true;
};

CpuDelta cpu_delta(const CpuSample& a, const CpuSample& b) {
    CpuDelta d;
    if (!a.ok || !b.ok) return {0, false};
    for (const auto& [tid, ns] : a.thread_ns)
        if (!b.thread_ns.count(tid)) d.exact = false;
    if (!d.exact) {
        d.ns = double(b.ticks_ns) - double(a.ticks_ns);
        return d;
    }
    for (const auto& [tid, ns] : b.thread_ns) {
        auto it = a.thread_ns.find(tid);
        d.ns += double(ns - (it == a.thread_ns.end() ? 0 : it->second));
    }
    return d;
}

// ---------------------------------------------------------------- the read benchmark

struct System {
    std::string name, root;
    pid_t pid = 0;
};

System parse_system(const std::string& spec) {
    System s;
    auto eq = spec.find('=');
    if (eq == std::string::npos) die("--system wants NAME=ROOT[@PID]: " + spec);
    s.name = spec.substr(0, eq);
    std::string rest = spec.substr(eq + 1);
    auto at = rest.rfind('@');
    if (at != std::string::npos) {
        s.pid = std::atoi(rest.c_str() + at + 1);
        rest = rest.substr(0, at);
    }
    s.root = rest;
    return s;
}

struct FileSpec {
    std::string label, rel;
};

const std::vector<FileSpec> default_files = {
    {"meminfo", "proc/meminfo"},
    {"cpuinfo", "proc/cpuinfo"},
    {"stat", "proc/stat"},
    {"uptime", "proc/uptime"},
    {"loadavg", "proc/loadavg"},
    {"cpu/online", "sys/devices/system/cpu/online"},
    {"sysctl kernel.panic (emulated)", "proc/sys/kernel/panic"},
    {"sysctl net.ipv4.ip_forward (namespaced)", "proc/sys/net/ipv4/ip_forward"},
};

std::string path_of(const System& s, const FileSpec& f) {
    std::string root = s.root;
    if (root.empty() || root.back() != '/') root += '/';
    return root + f.rel;
}

struct Cell {
    std::string status = "ok";  // ok | missing | error: ...
    long bytes = 0;
    std::vector<uint64_t> samples;
    double cpu_ns = 0;
    uint64_t cpu_reads = 0;
    bool cpu_exact = true;
    struct Tp {
        uint64_t ops = 0;
        double seconds = 0, cpu_ns = 0;
        bool cpu_exact = true;
    };
    std::map<int, Tp> tp;  // readers -> totals
};

// One latency batch: `n` timed reads (after a few untimed ones).
bool latency_batch(const std::string& path, int n, Cell& cell, pid_t pid) {
    for (int i = 0; i < 3; ++i) read_once(path.c_str());
    CpuSample before = sample_cpu(pid);
    for (int i = 0; i < n; ++i) {
        uint64_t t0 = now_ns();
        long r = read_once(path.c_str());
        uint64_t t1 = now_ns();
        if (r < 0) {
            cell.status = std::string("error: ") + std::strerror(int(-r));
            return false;
        }
        cell.samples.push_back(t1 - t0);
    }
    CpuSample after = sample_cpu(pid);
    if (pid > 0) {
        CpuDelta d = cpu_delta(before, after);
        cell.cpu_ns += d.ns;
        cell.cpu_reads += uint64_t(n);
        cell.cpu_exact = cell.cpu_exact && d.exact;
    }
    return true;
}

// One throughput run: `readers` threads reading for `ms` milliseconds.
void throughput_run(const std::string& path, int readers, int ms, Cell& cell, pid_t pid) {
    std::atomic<bool> go{false}, stop{false};
    std::atomic<int> ready{0};
    std::vector<uint64_t> ops(size_t(readers), 0), end(size_t(readers), 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < readers; ++t)
        threads.emplace_back([&, t] {
            read_once(path.c_str());
            ready.fetch_add(1);
            while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
            uint64_t count = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                if (read_once(path.c_str()) < 0) break;
                ++count;
            }
            ops[size_t(t)] = count;
            end[size_t(t)] = now_ns();
        });
    while (ready.load() < readers) std::this_thread::yield();
    CpuSample before = sample_cpu(pid);
    uint64_t start = now_ns();
    go.store(true, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    stop.store(true);
    for (auto& t : threads) t.join();
    CpuSample after = sample_cpu(pid);
    uint64_t last = *std::max_element(end.begin(), end.end());
    Cell::Tp& tp = cell.tp[readers];
    for (auto c : ops) tp.ops += c;
    tp.seconds += double(last - start) / 1e9;
    if (pid > 0) {
        CpuDelta d = cpu_delta(before, after);
        tp.cpu_ns += d.ns;
        tp.cpu_exact = tp.cpu_exact && d.exact;
    }
}

json cell_json(const Cell& c) {
    json j;
    j["status"] = c.status;
    if (c.status != "ok") return j;
    Stats s = stats_of(c.samples);
    j["bytes"] = c.bytes;
    j["samples"] = s.n;
    j["median_ns"] = s.median;
    j["p99_ns"] = s.p99;
    j["mean_ns"] = s.mean;
    if (c.cpu_reads) {
        j["cpu_ns_per_read"] = c.cpu_ns / double(c.cpu_reads);
        j["cpu_exact"] = c.cpu_exact;
    }
    json tp = json::object();
    for (const auto& [readers, t] : c.tp) {
        json r;
        r["ops"] = t.ops;
        r["seconds"] = t.seconds;
        r["ops_per_s"] = t.seconds > 0 ? double(t.ops) / t.seconds : 0.0;
        if (t.ops && (t.cpu_ns > 0 || !t.cpu_exact)) r["cpu_ns_per_read"] = t.cpu_ns / double(t.ops);
        tp[std::to_string(readers)] = r;
    }
    j["throughput"] = tp;
    return j;
}

int cmd_read(int argc, char** argv) {
    std::vector<System> systems;
    std::vector<FileSpec> files;
    std::string out;
    int rounds = 10, iterations = 200, tp_rounds = 3, tp_ms = 150;
    std::vector<int> readers = {1, 2, 8};
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--system") systems.push_back(parse_system(val()));
        else if (a == "--file") {
            std::string v = val();
            auto eq = v.find('=');
            if (eq == std::string::npos) die("--file wants LABEL=REL");
            files.push_back({v.substr(0, eq), v.substr(eq + 1)});
        } else if (a == "--rounds") rounds = std::stoi(val());
        else if (a == "--iterations") iterations = std::stoi(val());
        else if (a == "--tp-rounds") tp_rounds = std::stoi(val());
        else if (a == "--tp-ms") tp_ms = std::stoi(val());
        else if (a == "--quick") rounds = 2, iterations = 30, tp_rounds = 1, tp_ms = 40;
        else if (a == "--out") out = val();
        else die("read: unknown argument " + a);
    }
    if (systems.empty()) die("read: no --system");
    if (files.empty()) files = default_files;

    // cells[file][system]
    std::vector<std::vector<Cell>> cells(files.size(), std::vector<Cell>(systems.size()));
    for (size_t f = 0; f < files.size(); ++f)
        for (size_t s = 0; s < systems.size(); ++s) {
            Cell& c = cells[f][s];
            std::string p = path_of(systems[s], files[f]);
            struct stat st;
            if (::stat(p.c_str(), &st) != 0) {
                c.status = "missing";
                continue;
            }
            long r = read_once(p.c_str());
            if (r < 0) c.status = std::string("error: ") + std::strerror(int(-r));
            else c.bytes = r;
        }

    std::mt19937 rng(6);
    std::vector<size_t> order(systems.size());
    auto shuffled = [&] {
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), rng);
        return order;
    };
    auto t_start = Clock::now();
    for (int r = 0; r < rounds; ++r) {
        for (size_t f = 0; f < files.size(); ++f)
            for (size_t s : shuffled())
                if (cells[f][s].status == "ok")
                    latency_batch(path_of(systems[s], files[f]), iterations, cells[f][s], systems[s].pid);
        std::fprintf(stderr, "\rlatency: round %d/%d", r + 1, rounds);
    }
    std::fprintf(stderr, "\n");
    for (int n : readers) {
        for (int r = 0; r < tp_rounds; ++r)
            for (size_t f = 0; f < files.size(); ++f)
                for (size_t s : shuffled())
                    if (cells[f][s].status == "ok")
                        throughput_run(path_of(systems[s], files[f]), n, tp_ms, cells[f][s], systems[s].pid);
        std::fprintf(stderr, "throughput: %d readers done\n", n);
    }
    double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();

    json j;
    j["method"] = {{"rounds", rounds},       {"iterations_per_batch", iterations}, {"throughput_rounds", tp_rounds},
                   {"throughput_ms", tp_ms}, {"readers", readers},                 {"seconds", seconds}};
    j["systems"] = json::array();
    for (const auto& s : systems) j["systems"].push_back({{"name", s.name}, {"root", s.root}, {"pid", s.pid}});
    j["files"] = json::array();
    for (size_t f = 0; f < files.size(); ++f) {
        json fj{{"label", files[f].label}, {"path", files[f].rel}, {"systems", json::object()}};
        for (size_t s = 0; s < systems.size(); ++s) fj["systems"][systems[s].name] = cell_json(cells[f][s]);
        j["files"].push_back(fj);
    }
    std::ofstream(out) << j.dump(2) << "\n";
    return 0;
}

// ---------------------------------------------------------------- lifecycle

// One request on its own connection, as ecifs-runc and its hooks do. Dies on a refusal
// unless `refused` is given (then the reply is returned and *refused set).
json control_request(const std::string& socket_path, const json& req, bool* refused = nullptr) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("connect " + socket_path);
    std::string line = req.dump() + "\n";
    if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != ssize_t(line.size())) die("send");
    std::string reply;
    char buf[4096];
    while (reply.find('\n') == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        reply.append(buf, size_t(n));
    }
    ::close(fd);
    json j = json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
    bool bad = j.is_discarded() || !j.value("ok", false);
    if (refused) *refused = bad;
    else if (bad) die(fmt::format("daemon refused {}: {}", req.dump(), reply));
    return j;
}

// Remove a container; one the daemon already forgot (it believed the init had exited)
// is recorded, not fatal: the shared init pid is alive throughout.
void remove_container(const std::string& socket_path, const std::string& id, json& forgotten) {
    bool refused = false;
    json reply = control_request(socket_path, {{"op", "remove"}, {"id", id}}, &refused);
    if (!refused) return;
    std::string error = reply.value("error", std::string());
    if (error.find("unknown container") == std::string::npos) die(fmt::format("remove {}: {}", id, error));
    forgotten.push_back(id);
}

struct ProcFacts {
    double rss_kib = 0;
    long fds = 0, threads = 0;
};

ProcFacts proc_facts(pid_t pid) {
    ProcFacts f;
    std::istringstream status(read_text(fmt::format("/proc/{}/status", pid)));
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) f.rss_kib = std::atof(line.c_str() + 6);
        if (line.rfind("Threads:", 0) == 0) f.threads = std::atol(line.c_str() + 8);
    }
    std::string dir = fmt::format("/proc/{}/fd", pid);
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++f.fds;
        ::closedir(d);
    }
    return f;
}

json facts_json(const ProcFacts& f) { return {{"rss_kib", f.rss_kib}, {"fds", f.fds}, {"threads", f.threads}}; }

json latency_json(const std::vector<std::string>& paths, int n) {
    std::vector<uint64_t> samples;
    long failed = 0;
    for (int i = 0; i < n; ++i) {
        const std::string& p = paths[size_t(i) % paths.size()];
        uint64_t t0 = now_ns();
        long r = read_once(p.c_str());
        uint64_t t1 = now_ns();
        if (r < 0) ++failed;  // a container the daemon forgot (recorded by the caller)
        else samples.push_back(t1 - t0);
    }
    Stats s = stats_of(samples);
    return {{"median_ns", s.median}, {"p99_ns", s.p99}, {"samples", s.n}, {"failed", failed}};
}

int cmd_lifecycle(int argc, char** argv) {
    std::string socket_path, out, root;
    pid_t pid = 0, daemon_pid = 0;
    int count = 100, many = 1000, reads = 2000;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--socket") socket_path = val();
        else if (a == "--pid") pid = std::atoi(val().c_str());
        else if (a == "--daemon-pid") daemon_pid = std::atoi(val().c_str());
        else if (a == "--ecifs-root") root = val();  // an already registered container's mount
        else if (a == "--count") count = std::stoi(val());
        else if (a == "--many") many = std::stoi(val());
        else if (a == "--quick") count = 10, many = 50, reads = 200;
        else if (a == "--out") out = val();
        else die("lifecycle: unknown argument " + a);
    }
    if (socket_path.empty() || pid <= 0 || daemon_pid <= 0 || root.empty()) die("lifecycle: missing arguments");
    const std::string prefix = fmt::format("bench-{}-", getpid());
    json j;
    j["count"] = count;
    j["many"] = many;
    json forgotten = json::array();  // containers the daemon dropped while their init lived

    // One at a time: prepare + start, then remove.
    std::vector<uint64_t> prepare_ns, start_ns, both_ns, remove_ns;
    for (int i = 0; i < count; ++i) {
        std::string id = prefix + "seq-" + std::to_string(i);
        uint64_t t0 = now_ns();
        control_request(socket_path, {{"op", "prepare"}, {"id", id}});
        uint64_t t1 = now_ns();
        control_request(socket_path, {{"op", "start"}, {"id", id}, {"pid", pid}});
        uint64_t t2 = now_ns();
        remove_container(socket_path, id, forgotten);
        uint64_t t3 = now_ns();
        prepare_ns.push_back(t1 - t0);
        start_ns.push_back(t2 - t1);
        both_ns.push_back(t2 - t0);
        remove_ns.push_back(t3 - t2);
    }
    auto st = [](const std::vector<uint64_t>& v) {
        Stats s = stats_of(v);
        return json{{"median_ns", s.median}, {"p99_ns", s.p99}, {"mean_ns", s.mean}, {"samples", s.n}};
    };
    j["sequential"] = {{"prepare", st(prepare_ns)}, {"start", st(start_ns)}, {"prepare_start", st(both_ns)},
                       {"remove", st(remove_ns)}};
    std::fprintf(stderr, "lifecycle: %d sequential done\n", count);

    // Many at once.
    std::string meminfo = root + "/proc/meminfo";
    j["one_live"] = {{"daemon", facts_json(proc_facts(daemon_pid))}, {"read_meminfo", latency_json({meminfo}, reads)}};
    std::vector<std::string> ids, mounts;
    uint64_t t0 = now_ns();
    for (int i = 0; i < many; ++i) {
        std::string id = prefix + "many-" + std::to_string(i);
        json reply = control_request(socket_path, {{"op", "prepare"}, {"id", id}});
        control_request(socket_path, {{"op", "start"}, {"id", id}, {"pid", pid}});
        ids.push_back(id);
        mounts.push_back(reply.value("mount", std::string()));
    }
    uint64_t t1 = now_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ProcFacts live = proc_facts(daemon_pid);
    // Read the first container's meminfo, and the new ones' round-robin.
    std::vector<std::string> spread;
    for (size_t i = 0; i < mounts.size(); i += std::max<size_t>(1, mounts.size() / 50))
        spread.push_back(mounts[i] + "/proc/meminfo");
    for (const auto& p : spread) read_once(p.c_str());
    j["many_live"] = {{"register_seconds", double(t1 - t0) / 1e9},
                      {"daemon", facts_json(live)},
                      {"read_meminfo_first", latency_json({meminfo}, reads)},
                      {"read_meminfo_spread", latency_json(spread, reads)},
                      {"spread_mounts", spread.size()}};
    std::fprintf(stderr, "lifecycle: %d live\n", many);
    uint64_t t2 = now_ns();
    for (const auto& id : ids) remove_container(socket_path, id, forgotten);
    uint64_t t3 = now_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    j["after_remove"] = {{"remove_seconds", double(t3 - t2) / 1e9}, {"daemon", facts_json(proc_facts(daemon_pid))}};
    j["forgotten_early"] = forgotten;
    std::ofstream(out) << j.dump(2) << "\n";
    return 0;
}

// ---------------------------------------------------------------- idle

int cmd_idle(int argc, char** argv) {
    std::vector<System> systems;
    double seconds = 5;
    std::string out;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--system") systems.push_back(parse_system(val()));
        else if (a == "--seconds") seconds = std::stod(val());
        else if (a == "--out") out = val();
        else die("idle: unknown argument " + a);
    }
    std::vector<CpuSample> before;
    for (const auto& s : systems) before.push_back(sample_cpu(s.pid));
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    json j;
    j["seconds"] = seconds;
    j["systems"] = json::object();
    for (size_t i = 0; i < systems.size(); ++i) {
        CpuDelta d = cpu_delta(before[i], sample_cpu(systems[i].pid));
        j["systems"][systems[i].name] = {{"cpu_ns", d.ns}, {"exact", d.exact}};
    }
    std::ofstream(out) << j.dump(2) << "\n";
    return 0;
}

// ---------------------------------------------------------------- the trapped sysinfo

#if defined(__x86_64__)
constexpr uint32_t audit_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t audit_arch = AUDIT_ARCH_AARCH64;
#else
#error "ecifs_bench trap: unknown architecture"
#endif

// Make every later sysinfo(2) of this process wait for a seccomp notify listener, and
// hand the listener to the daemon's socket as a runtime does: the state JSON naming
// container `id`, the fd by SCM_RIGHTS. Irrevocable: run it in a child.
void trap_own_sysinfo(const std::string& socket_path, const std::string& id) {
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, audit_arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sysinfo, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die(fmt::format("no_new_privs: {}", std::strerror(errno)));
    int listener = static_cast<int>(::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    if (listener < 0) die(fmt::format("seccomp: {}", std::strerror(errno)));
    int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
    if (::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        die(fmt::format("connect {}: {}", socket_path, std::strerror(errno)));
    const json state = {{"ociVersion", "1.0.2"},
                        {"fds", {"seccompFd"}},
                        {"pid", ::getpid()},
                        {"metadata", ""},
                        {"state", {{"ociVersion", "1.0.2"}, {"id", id}, {"status", "creating"}, {"pid", ::getpid()}}}};
    std::string text = state.dump();
    iovec iov{text.data(), text.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &listener, sizeof listener);
    if (::sendmsg(sock, &msg, 0) != static_cast<ssize_t>(text.size())) die(fmt::format("sendmsg: {}", std::strerror(errno)));
    ::close(listener);  // the daemon's now
    ::close(sock);
}

// `n` timed sysinfo calls (after a few untimed ones), ns each; empty if a call failed.
std::vector<uint64_t> sysinfo_batch(int n, unsigned long* totalram = nullptr) {
    struct sysinfo info {};
    for (int i = 0; i < 3; ++i)
        if (::sysinfo(&info) != 0) return {};
    if (totalram) *totalram = info.totalram * info.mem_unit;
    std::vector<uint64_t> ns;
    ns.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        uint64_t t0 = now_ns();
        if (::sysinfo(&info) != 0) return {};
        ns.push_back(now_ns() - t0);
    }
    return ns;
}

bool read_all(int fd, void* data, size_t size) {
    auto* p = static_cast<char*>(data);
    while (size > 0) {
        ssize_t n = ::read(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n, size -= static_cast<size_t>(n);
    }
    return true;
}

bool write_all(int fd, const void* data, size_t size) {
    auto* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n, size -= static_cast<size_t>(n);
    }
    return true;
}

// The child: trap, then on each byte from `go` time a batch and send back its count,
// totalram and samples. A failed call sends a count of 0.
[[noreturn]] void trapped_child(const std::string& socket_path, const std::string& id, int per_batch, int go, int back) {
    trap_own_sysinfo(socket_path, id);
    for (char byte; read_all(go, &byte, 1);) {
        unsigned long totalram = 0;
        auto ns = sysinfo_batch(per_batch, &totalram);
        uint64_t count = ns.size();
        if (!write_all(back, &count, sizeof count) || !write_all(back, &totalram, sizeof totalram) ||
            !write_all(back, ns.data(), ns.size() * sizeof(uint64_t)))
            break;
    }
    std::_Exit(0);
}

int cmd_trap(int argc, char** argv) {
    std::string socket_path, id = "bench", out;
    pid_t daemon_pid = 0;
    bool quick = false;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--socket") socket_path = val();
        else if (a == "--id") id = val();
        else if (a == "--daemon-pid") daemon_pid = std::stoi(val());
        else if (a == "--quick") quick = true;
        else if (a == "--out") out = val();
        else die("trap: unknown argument " + a);
    }
    if (socket_path.empty() || out.empty()) die("trap: --socket and --out are needed");
    const int rounds = quick ? 3 : 10, per_batch = quick ? 100 : 200;

    int go[2], back[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(back, O_CLOEXEC) != 0) die("pipe");
    pid_t child = ::fork();
    if (child < 0) die("fork");
    if (child == 0) {
        ::close(go[1]), ::close(back[0]);
        trapped_child(socket_path, id, per_batch, go[0], back[1]);
    }
    ::close(go[0]), ::close(back[1]);

    std::vector<uint64_t> native, trapped;
    unsigned long native_ram = 0, trapped_ram = 0;
    double daemon_cpu_ns = 0;
    bool cpu_exact = true;
    std::string error;
    std::mt19937 rng(std::random_device{}());
    for (int round = 0; round < rounds && error.empty(); ++round) {
        bool trapped_first = rng() % 2;
        for (int part = 0; part < 2 && error.empty(); ++part) {
            if ((part == 0) != trapped_first) {
                auto ns = sysinfo_batch(per_batch, &native_ram);
                native.insert(native.end(), ns.begin(), ns.end());
                continue;
            }
            CpuSample before = sample_cpu(daemon_pid);
            uint64_t count = 0;
            if (!write_all(go[1], "g", 1) || !read_all(back[0], &count, sizeof count) ||
                !read_all(back[0], &trapped_ram, sizeof trapped_ram)) {
                error = "the trapped child died";
                break;
            }
            if (count == 0) {
                error = "a trapped sysinfo failed (is the daemon serving the listener?)";
                break;
            }
            std::vector<uint64_t> ns(count);
            if (!read_all(back[0], ns.data(), count * sizeof(uint64_t))) {
                error = "the trapped child died";
                break;
            }
            CpuDelta d = cpu_delta(before, sample_cpu(daemon_pid));
            daemon_cpu_ns += d.ns;
            cpu_exact = cpu_exact && d.exact;
            trapped.insert(trapped.end(), ns.begin(), ns.end());
        }
    }
    ::close(go[1]);
    ::close(back[0]);
    ::waitpid(child, nullptr, 0);

    auto stats_json = [](const std::vector<uint64_t>& v) {
        Stats s = stats_of(v);
        return json{{"median_ns", s.median}, {"p99_ns", s.p99}, {"mean_ns", s.mean}, {"n", s.n}};
    };
    json j = {{"rounds", rounds}, {"per_batch", per_batch}};
    if (!error.empty()) j["error"] = error;
    j["native"] = stats_json(native);
    j["native"]["totalram"] = native_ram;
    j["trapped"] = stats_json(trapped);
    j["trapped"]["totalram"] = trapped_ram;
    if (daemon_pid > 0 && !trapped.empty()) {
        // The untimed warm-up calls are served too: count them in.
        const double calls = double(trapped.size()) + 3.0 * double(trapped.size()) / per_batch;
        j["trapped"]["daemon_cpu_ns_per_call"] = daemon_cpu_ns / calls;
        j["trapped"]["cpu_exact"] = cpu_exact;
    }
    std::ofstream(out) << j.dump(2) << "\n";
    if (!error.empty()) std::fprintf(stderr, "ecifs_bench trap: %s\n", error.c_str());
    return 0;
}

int cmd_loop(int argc, char** argv) {
    std::string path;
    long count = 10000;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--path") path = argv[i + 1];
        else if (a == "--count") count = std::stol(argv[i + 1]);
        else die("loop: unknown argument " + a);
    }
    for (long i = 0; i < count; ++i)
        if (long r = read_once(path.c_str()); r < 0) die(fmt::format("{}: {}", path, std::strerror(int(-r))));
    return 0;
}

// ---------------------------------------------------------------- report

std::string us(double ns) {
    if (ns <= 0) return "—";
    double u = ns / 1000.0;
    return u >= 100 ? fmt::format("{:.0f}", u) : u >= 10 ? fmt::format("{:.1f}", u) : fmt::format("{:.2f}", u);
}

std::string verdict(bool met) { return met ? "met" : "**missed**"; }

const json* cell(const json& file, const std::string& system) {
    if (!file["systems"].contains(system)) return nullptr;
    const json& c = file["systems"][system];
    return c.value("status", "") == "ok" ? &c : nullptr;
}

std::string missing_text(const json& file, const std::string& system) {
    if (!file["systems"].contains(system)) return "—";
    std::string status = file["systems"][system].value("status", "");
    if (status == "missing") return system.rfind("ecifs", 0) == 0 ? "not built yet" : "n/a";
    return status;
}

double num(const json* c, const char* key) { return c && c->contains(key) ? (*c)[key].get<double>() : 0.0; }

double tp_num(const json* c, int readers, const char* key) {
    if (!c || !c->contains("throughput")) return 0;
    const json& t = (*c)["throughput"];
    std::string k = std::to_string(readers);
    return t.contains(k) && t[k].contains(key) ? t[k][key].get<double>() : 0.0;
}

int cmd_report(int argc, char** argv) {
    json all = json::object();
    json meta = json::object();
    std::string md_out, csv_out, json_out;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--in") {
            std::string spec = val();  // KEY=FILE
            auto eq = spec.find('=');
            if (eq == std::string::npos) die("--in wants KEY=FILE");
            std::ifstream in(spec.substr(eq + 1));
            if (!in) continue;  // a part that was not run
            all[spec.substr(0, eq)] = json::parse(in);
        } else if (a == "--meta") {
            std::string kv = val();
            auto eq = kv.find('=');
            meta[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        } else if (a == "--markdown") md_out = val();
        else if (a == "--csv") csv_out = val();
        else if (a == "--json") json_out = val();
        else die("report: unknown argument " + a);
    }
    all["meta"] = meta;
    std::string md;
    auto line = [&](const std::string& s) { md += s + "\n"; };

    line(fmt::format("Run of {} on {}.", meta.value("date", "?"), meta.value("host", "this machine")));
    line("");
    line("| machine | |");
    line("|---|---|");
    for (const auto& [k, v] : meta.items())
        if (k != "date" && k != "host") line(fmt::format("| {} | {} |", k, v.get<std::string>()));
    line("");

    std::vector<std::string> systems;
    if (all.contains("read"))
        for (const auto& s : all["read"]["systems"]) systems.push_back(s["name"]);

    std::string csv = "file,system,status,bytes,median_ns,p99_ns,cpu_ns_per_read,ops_per_s_1,ops_per_s_2,ops_per_s_8,"
                      "cpu_ns_per_read_8\n";
    std::vector<std::string> missed;
    if (all.contains("read")) {
        const json& read = all["read"];
        const json& m = read["method"];
        line(fmt::format("### Read path: open + read to EOF + close, one reader (µs; median / p99)\n\n"
                         "{} rounds × {} reads per file and system, systems in a fresh random order "
                         "each round; {:.0f} s in all.\n",
                         m["rounds"].get<int>(), m["iterations_per_batch"].get<int>(), m["seconds"].get<double>()));
        std::string head = "| file | bytes |", sep = "|---|---:|";
        for (const auto& s : systems) head += " " + s + " |", sep += "---:|";
        line(head);
        line(sep);
        for (const auto& f : read["files"]) {
            long bytes = 0;
            for (const auto& s : systems)
                if (const json* c = cell(f, s); c && !bytes) bytes = (*c)["bytes"].get<long>();
            std::string row = fmt::format("| {} | {} |", f["label"].get<std::string>(), bytes);
            for (const auto& s : systems) {
                const json* c = cell(f, s);
                row += c ? fmt::format(" {} / {} |", us(num(c, "median_ns")), us(num(c, "p99_ns")))
                         : " " + missing_text(f, s) + " |";
            }
            line(row);
        }
        line("");

        line("### Ratios of medians, and the server's CPU time per read\n");
        line("CPU per read = (user + sys of all the server's threads over the batches) ÷ reads, in µs; "
             "native has no server (its CPU is the reader's).\n");
        std::string rh = "| file | ecifs/native | ecifs/LXCFS (≤ 0.35) | ecifs/bare-stock (≤ 0.5) | "
                         "ecifs/bare-own (≤ 1.5) |";
        std::string rs = "|---|---:|---:|---:|---:|";
        for (const auto& s : systems)
            if (s != "native") rh += " CPU " + s + " |", rs += "---:|";
        rh += " CPU ecifs/bare-own (≤ 2) |";
        rs += "---:|";
        line(rh);
        line(rs);
        for (const auto& f : read["files"]) {
            const json* e = cell(f, "ecifs");
            std::string label = f["label"].get<std::string>();
            std::string row = "| " + label + " |";
            double em = num(e, "median_ns");
            auto r = [&](const std::string& other, double limit) {
                const json* o = cell(f, other);
                if (!e || !o) return std::string(e ? "—" : missing_text(f, "ecifs"));
                double x = em / num(o, "median_ns");
                if (limit > 0 && x > limit) missed.push_back(fmt::format("{}: ecifs/{} = {:.2f} (target ≤ {})", label, other, x, limit));
                return fmt::format("{:.2f}{}", x, limit > 0 && x > limit ? " ✗" : limit > 0 ? " ✓" : "");
            };
            row += " " + r("native", 0) + " | " + r("lxcfs", 0.35) + " | " + r("bare-stock", 0.5) + " | " +
                   r("bare-own", 1.5) + " |";
            for (const auto& s : systems)
                if (s != "native") row += " " + us(num(cell(f, s), "cpu_ns_per_read")) + " |";
            double ec = num(e, "cpu_ns_per_read"), bc = num(cell(f, "bare-own"), "cpu_ns_per_read");
            if (ec > 0 && bc > 0) {
                double x = ec / bc;
                if (x > 2) missed.push_back(fmt::format("{}: CPU per read ecifs/bare-own = {:.2f} (target ≤ 2)", label, x));
                row += fmt::format(" {:.2f}{} |", x, x > 2 ? " ✗" : " ✓");
            } else row += " — |";
            line(row);
        }
        line("");

        std::vector<int> readers;
        for (const auto& n : m["readers"]) readers.push_back(n.get<int>());
        line(fmt::format("### Throughput: total reads/s with N concurrent readers (threads) on one file\n\n"
                         "{} rounds × {} ms per file, system and N, interleaved as above. CPU = server µs per read at 8 readers.\n",
                         m["throughput_rounds"].get<int>(), m["throughput_ms"].get<int>()));
        std::string th = "| file | N |", ts = "|---|---:|";
        for (const auto& s : systems) th += " " + s + " |", ts += "---:|";
        th += " ecifs/LXCFS (≥ 4 at 8) |";
        ts += "---:|";
        line(th);
        line(ts);
        for (const auto& f : read["files"]) {
            std::string label = f["label"].get<std::string>();
            for (int n : readers) {
                std::string row = fmt::format("| {} | {} |", label, n);
                for (const auto& s : systems) {
                    const json* c = cell(f, s);
                    if (!c) {
                        row += " " + missing_text(f, s) + " |";
                        continue;
                    }
                    double ops = tp_num(c, n, "ops_per_s");
                    double cpu = tp_num(c, n, "cpu_ns_per_read");
                    row += n == 8 && cpu > 0 ? fmt::format(" {:.0f} (CPU {}) |", ops, us(cpu)) : fmt::format(" {:.0f} |", ops);
                }
                double eo = tp_num(cell(f, "ecifs"), n, "ops_per_s"), lo = tp_num(cell(f, "lxcfs"), n, "ops_per_s");
                if (eo > 0 && lo > 0) {
                    double x = eo / lo;
                    if (n == 8 && x < 4) missed.push_back(fmt::format("{}: 8-reader throughput ecifs/LXCFS = {:.2f} (target ≥ 4)", label, x));
                    row += fmt::format(" {:.2f}{} |", x, n == 8 ? (x >= 4 ? " ✓" : " ✗") : "");
                } else row += " — |";
                line(row);
            }
        }
        line("");

        // sysctl: namespaced vs emulated
        const json *emu = nullptr, *ns = nullptr;
        for (const auto& f : read["files"]) {
            std::string p = f["path"];
            if (p == "proc/sys/kernel/panic") emu = cell(f, "ecifs");
            if (p == "proc/sys/net/ipv4/ip_forward") ns = cell(f, "ecifs");
        }
        if (emu && ns) {
            double x = num(ns, "median_ns") / num(emu, "median_ns");
            line(fmt::format("Namespaced sysctl ÷ emulated sysctl (ecifs medians): {:.2f} (target ≤ 2: {}).\n", x, verdict(x <= 2)));
            if (x > 2) missed.push_back(fmt::format("namespaced/emulated sysctl = {:.2f} (target ≤ 2)", x));
        } else {
            line("Namespaced ÷ emulated sysctl: not built yet in ecifs.\n");
        }

        for (const auto& f : read["files"])
            for (const auto& s : systems) {
                const json* c = cell(f, s);
                std::string status = f["systems"][s].value("status", "");
                if (!c) {
                    csv += fmt::format("\"{}\",{},{},,,,,,,,\n", f["label"].get<std::string>(), s, status);
                    continue;
                }
                csv += fmt::format("\"{}\",{},ok,{},{:.0f},{:.0f},{:.0f},{:.0f},{:.0f},{:.0f},{:.0f}\n", f["label"].get<std::string>(),
                                   s, (*c)["bytes"].get<long>(), num(c, "median_ns"), num(c, "p99_ns"),
                                   num(c, "cpu_ns_per_read"), tp_num(c, 1, "ops_per_s"), tp_num(c, 2, "ops_per_s"),
                                   tp_num(c, 8, "ops_per_s"), tp_num(c, 8, "cpu_ns_per_read"));
            }
    }

    if (all.contains("idle")) {
        const json& idle = all["idle"];
        line(fmt::format("### Idle: server CPU time over {:.0f} s with no reads\n", idle["seconds"].get<double>()));
        line("| server | CPU ms |");
        line("|---|---:|");
        for (const auto& [name, v] : idle["systems"].items())
            line(fmt::format("| {} | {:.2f} |", name, v["cpu_ns"].get<double>() / 1e6));
        line("");
    }

    if (all.contains("lifecycle")) {
        const json& l = all["lifecycle"];
        const json& seq = l["sequential"];
        auto ms = [](const json& s) { return fmt::format("{:.2f} / {:.2f}", s["median_ns"].get<double>() / 1e6, s["p99_ns"].get<double>() / 1e6); };
        line(fmt::format("### Lifecycle over the control socket (ms; median / p99 of {} containers, one at a time)\n", l["count"].get<int>()));
        line("| prepare (mount) | start (register init pid) | prepare + start (≤ 5) | remove |");
        line("|---:|---:|---:|---:|");
        double both = seq["prepare_start"]["median_ns"].get<double>() / 1e6;
        line(fmt::format("| {} | {} | {} {} | {} |", ms(seq["prepare"]), ms(seq["start"]), ms(seq["prepare_start"]),
                         both <= 5 ? "✓" : "✗", ms(seq["remove"])));
        if (both > 5) missed.push_back(fmt::format("prepare + start = {:.2f} ms (target ≤ 5)", both));
        line("");
        const json& one = l["one_live"];
        const json& many = l["many_live"];
        const json& after = l["after_remove"];
        int n = l["many"].get<int>();
        line(fmt::format("### {} containers live at once (one shared init pid; the mount is the identity)\n", n));
        line("| | daemon RSS MiB | open fds | threads | meminfo read µs (median / p99) |");
        line("|---|---:|---:|---:|---:|");
        auto facts = [](const json& d) {
            return fmt::format("{:.1f} | {} | {}", d["rss_kib"].get<double>() / 1024, d["fds"].get<long>(), d["threads"].get<long>());
        };
        auto lat = [](const json& r) { return fmt::format("{} / {}", us(r["median_ns"].get<double>()), us(r["p99_ns"].get<double>())); };
        line(fmt::format("| 1 container | {} | {} |", facts(one["daemon"]), lat(one["read_meminfo"])));
        line(fmt::format("| {} more (first container's file) | {} | {} |", n, facts(many["daemon"]), lat(many["read_meminfo_first"])));
        line(fmt::format("| {} more (round-robin over {} of them) | | | | {} |", n, many["spread_mounts"].get<long>(), lat(many["read_meminfo_spread"])));
        line(fmt::format("| after removing them | {} | |", facts(after["daemon"])));
        line("");
        double rss = many["daemon"]["rss_kib"].get<double>() / 1024;
        long t0 = one["daemon"]["threads"].get<long>(), t1 = many["daemon"]["threads"].get<long>();
        line(fmt::format("Registering {} took {:.2f} s, removing them {:.2f} s. RSS with {} live: {:.1f} MiB "
                         "(≤ 100: {}); threads {} → {} ({}).\n",
                         n, many["register_seconds"].get<double>(), after["remove_seconds"].get<double>(), n, rss,
                         verdict(rss <= 100), t0, t1, verdict(t1 <= t0)));
        if (l.contains("forgotten_early") && !l["forgotten_early"].empty()) {
            line(fmt::format("**{} of {} containers were forgotten by the daemon while their init was alive** "
                             "(remove answered \"unknown container\"): {}.\n",
                             l["forgotten_early"].size(), l["count"].get<int>() + n, l["forgotten_early"].dump()));
            missed.push_back(fmt::format("{} containers forgotten while their init lived (a correctness bug, see above)",
                                         l["forgotten_early"].size()));
        }
        if (rss > 100) missed.push_back(fmt::format("{} containers: RSS {:.1f} MiB (target ≤ 100)", n, rss));
        if (t1 > t0) missed.push_back(fmt::format("threads grew {} → {}", t0, t1));
    }

    if (all.contains("trap")) {
        const json& t = all["trap"];
        line("### seccomp trapper: sysinfo(2) round trip (µs; median / p99)\n");
        line(fmt::format("{} rounds × {} calls, native and trapped batches in a fresh random order each round. "
                         "Trapped: a child of the bench traps its own sysinfo with a seccomp user-notification "
                         "filter and hands the listener to the daemon's seccomp socket as runc does, naming the "
                         "bench's container; ecifs answers with the container's figures.\n",
                         t["rounds"].get<int>(), t["per_batch"].get<int>()));
        if (t.contains("error")) {
            line(fmt::format("**Not measured: {}.**\n", t["error"].get<std::string>()));
            missed.push_back("trapped sysinfo: " + t["error"].get<std::string>());
        } else {
            const json &n = t["native"], &tr = t["trapped"];
            auto ram = [](const json& x) { return fmt::format("{:.0f} MiB", x["totalram"].get<double>() / (1 << 20)); };
            line("| call | median / p99 | trapped/native | daemon CPU per call | totalram seen |");
            line("|---|---:|---:|---:|---:|");
            line(fmt::format("| native sysinfo() | {} / {} | | | {} |", us(n["median_ns"].get<double>()),
                             us(n["p99_ns"].get<double>()), ram(n)));
            line(fmt::format("| trapped sysinfo() (ecifs) | {} / {} | {:.1f} | {} | {} |", us(tr["median_ns"].get<double>()),
                             us(tr["p99_ns"].get<double>()), tr["median_ns"].get<double>() / n["median_ns"].get<double>(),
                             tr.contains("daemon_cpu_ns_per_call") ? us(tr["daemon_cpu_ns_per_call"].get<double>()) : "—",
                             ram(tr)));
            line("");
            csv += fmt::format("\"sysinfo() trapped\",native,ok,,{:.0f},{:.0f},,,,,\n", n["median_ns"].get<double>(),
                               n["p99_ns"].get<double>());
            csv += fmt::format("\"sysinfo() trapped\",ecifs,ok,,{:.0f},{:.0f},{:.0f},,,,\n", tr["median_ns"].get<double>(),
                               tr["p99_ns"].get<double>(), tr.value("daemon_cpu_ns_per_call", 0.0));
        }
    }

    line("### Targets missed in this run\n");
    if (missed.empty()) line("None.");
    for (const auto& m : missed) line("- " + m);

    all["missed"] = missed;
    if (!md_out.empty()) std::ofstream(md_out) << md;
    if (!csv_out.empty()) std::ofstream(csv_out) << csv;
    if (!json_out.empty()) std::ofstream(json_out) << all.dump(2) << "\n";
    std::fputs(md.c_str(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "read") return cmd_read(argc, argv);
    if (cmd == "lifecycle") return cmd_lifecycle(argc, argv);
    if (cmd == "idle") return cmd_idle(argc, argv);
    if (cmd == "loop") return cmd_loop(argc, argv);
    if (cmd == "trap") return cmd_trap(argc, argv);
    if (cmd == "report") return cmd_report(argc, argv);
    std::fprintf(stderr, "usage: ecifs_bench read|lifecycle|idle|trap|loop|report ... (see the top of bench/ecifs_bench.cpp)\n");
    return 2;
}
