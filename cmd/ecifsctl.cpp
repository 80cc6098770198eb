// ecifsctl: talk to the ecifs daemon — list and inspect containers, and prepare, start
// and remove them by hand (what ecifs-runc and its hooks do for a real runtime).
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "control/protocol.hpp"
#include "ecifs_version.hpp"

int main(int argc, char** argv) {
    using nlohmann::json;
    std::string socket = ecifs::control::socket_path_from_env();
    std::string id;
    unsigned root_uid = 0, root_gid = 0;
    int pid = 0;

    CLI::App app{"ecifsctl: inspect and drive the ecifs daemon"};
    app.set_version_flag("--version", std::string("ecifsctl ") + ECIFS_VERSION);
    app.add_option("--socket", socket, "The daemon's control socket ($ECIFS_SOCKET)")->capture_default_str();
    app.require_subcommand(1);
    auto* list = app.add_subcommand("list", "List the containers the daemon serves");
    auto* inspect = app.add_subcommand("inspect", "Show one container: state, mount, cgroup, limits");
    inspect->add_option("id", id, "Container ID")->required();
    auto* prepare = app.add_subcommand("prepare", "Mount the views for a new container");
    prepare->add_option("id", id, "Container ID")->required();
    prepare->add_option("--root-uid", root_uid, "Host uid that is root in the container")->capture_default_str();
    prepare->add_option("--root-gid", root_gid, "Host gid that is root in the container")->capture_default_str();
    auto* start = app.add_subcommand("start", "Tell the daemon the container's init pid");
    start->add_option("id", id, "Container ID")->required();
    start->add_option("pid", pid, "Init pid (host pid namespace)")->required()->check(CLI::PositiveNumber);
    auto* remove = app.add_subcommand("remove", "Unmount and forget a container");
    remove->add_option("id", id, "Container ID")->required();
    auto* stop_all = app.add_subcommand("stop-all",
                                        "Unmount every container's views, forget them and stop the daemon "
                                        "(a SIGTERM instead leaves them to the next daemon)");
    CLI11_PARSE(app, argc, argv);

    json request;
    if (list->parsed()) request = {{"op", "list"}};
    if (inspect->parsed()) request = {{"op", "inspect"}, {"id", id}};
    if (prepare->parsed()) request = {{"op", "prepare"}, {"id", id}, {"root_uid", root_uid}, {"root_gid", root_gid}};
    if (start->parsed()) request = {{"op", "start"}, {"id", id}, {"pid", pid}};
    if (remove->parsed()) request = {{"op", "remove"}, {"id", id}};
    if (stop_all->parsed()) request = {{"op", "stop-all"}};
    try {
        json reply = ecifs::control::request(socket, request);
        reply.erase("ok");
        std::printf("%s\n", reply.dump(2).c_str());
    } catch (const ecifs::control::ControlError& e) {
        std::fprintf(stderr, "ecifsctl: %s\n", e.what());
        return 1;
    }
    return 0;
}
