// ecifsctl: talk to the ecifs daemon — list and inspect containers, show the daemon's
// figures (stats), and prepare, start and remove containers by hand (what ecifs-runc and
// its hooks do for a real runtime).
#include <cstdio>
#include <stdexcept>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "control/prometheus.hpp"
#include "control/protocol.hpp"
#include "ecifs_version.hpp"

namespace {

using nlohmann::json;

// What the command line asks; `request` is set once it is parsed.
struct Command {
    std::string socket = ecifs::control::socket_path_from_env();
    std::string id;
    unsigned root_uid = 0, root_gid = 0;
    int pid = 0;
    bool prometheus = false;
    std::vector<std::pair<CLI::App*, std::function<json()>>> requests;  // subcommand -> its request
};

void add_subcommands(CLI::App& app, Command& c) {
    auto with_id = [&](CLI::App* sub) { return sub->add_option("id", c.id, "Container ID")->required(); };
    auto* list = app.add_subcommand("list", "List the containers the daemon serves");
    c.requests.push_back({list, [] { return json{{"op", "list"}}; }});
    auto* inspect = app.add_subcommand("inspect", "Show one container: state, mount, cgroup, limits");
    with_id(inspect);
    c.requests.push_back({inspect, [&c] { return json{{"op", "inspect"}, {"id", c.id}}; }});
    auto* stats = app.add_subcommand("stats",
                                     "Figures per container (requests by file and kind, errors, p50/p99 latency, open "
                                     "files, helpers, trapped calls) and the daemon's (RSS, fds, threads, uptime)");
    stats->add_option("id", c.id, "Only this container");
    stats->add_flag("--prometheus", c.prometheus, "Print Prometheus' text format (node_exporter's textfile collector)");
    c.requests.push_back({stats, [&c] { return c.id.empty() ? json{{"op", "stats"}} : json{{"op", "stats"}, {"id", c.id}}; }});
    auto* prepare = app.add_subcommand("prepare", "Mount the views for a new container");
    with_id(prepare);
    prepare->add_option("--root-uid", c.root_uid, "Host uid that is root in the container")->capture_default_str();
    prepare->add_option("--root-gid", c.root_gid, "Host gid that is root in the container")->capture_default_str();
    c.requests.push_back({prepare, [&c] {
                              return json{{"op", "prepare"}, {"id", c.id}, {"root_uid", c.root_uid}, {"root_gid", c.root_gid}};
                          }});
    auto* start = app.add_subcommand("start", "Tell the daemon the container's init pid");
    with_id(start);
    start->add_option("pid", c.pid, "Init pid (host pid namespace)")->required()->check(CLI::PositiveNumber);
    c.requests.push_back({start, [&c] { return json{{"op", "start"}, {"id", c.id}, {"pid", c.pid}}; }});
    auto* remove = app.add_subcommand("remove", "Unmount and forget a container");
    with_id(remove);
    c.requests.push_back({remove, [&c] { return json{{"op", "remove"}, {"id", c.id}}; }});
    auto* stop_all = app.add_subcommand("stop-all",
                                        "Unmount every container's views, forget them and stop the daemon "
                                        "(a SIGTERM instead leaves them to the next daemon)");
    c.requests.push_back({stop_all, [] { return json{{"op", "stop-all"}}; }});
}

}  // namespace

int main(int argc, char** argv) {
    Command c;
    CLI::App app{"ecifsctl: inspect and drive the ecifs daemon"};
    app.set_version_flag("--version", std::string("ecifsctl ") + ECIFS_VERSION);
    app.add_option("--socket", c.socket, "The daemon's control socket ($ECIFS_SOCKET)")->capture_default_str();
    app.require_subcommand(1);
    add_subcommands(app, c);
    CLI11_PARSE(app, argc, argv);

    json request;
    for (const auto& [sub, make] : c.requests)
        if (sub->parsed()) request = make();
    try {
        json reply = ecifs::control::request(c.socket, request);
        reply.erase("ok");
        if (c.prometheus)
            std::fputs(ecifs::control::prometheus_text(reply).c_str(), stdout);
        else
            std::printf("%s\n", reply.dump(2).c_str());
    } catch (const ecifs::control::ControlError& e) {
        std::fprintf(stderr, "ecifsctl: %s\n", e.what());
        return 1;
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "ecifsctl: %s\n", e.what());
        return 1;
    }
    return 0;
}
