#include "shim/oci_config.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace ecifs::shim;
using nlohmann::json;

// Real `runc spec` (rootful) and `runc spec --rootless` (made as uid 1000) output of runc 1.1.5.
json rootful_spec() { return read_config(fs::path(ECIFS_FIXTURES_DIR) / "oci/runc-spec.json"); }
json rootless_spec() { return read_config(fs::path(ECIFS_FIXTURES_DIR) / "oci/runc-spec-rootless-uid1000.json"); }

const HookSetup setup{"/usr/local/bin/ecifs-runc", "/run/ecifs/ecifs.sock", ""};

const std::vector<View> views = {
    {"/run/ecifs/c1/mnt/proc/meminfo", "/proc/meminfo"},
    {"/run/ecifs/c1/mnt/proc/sys", "/proc/sys"},
    {"/run/ecifs/c1/mnt/sys/devices/system/cpu/online", "/sys/devices/system/cpu/online"},
};

const json* find_mount(const json& config, const std::string& destination) {
    for (const json& m : config["mounts"])
        if (m["destination"] == destination) return &m;
    return nullptr;
}

std::vector<json> hooks_of(const json& config, const char* kind) {
    if (!config.contains("hooks") || !config["hooks"].contains(kind)) return {};
    return config["hooks"][kind].get<std::vector<json>>();
}

size_t count_destination(const json& config, const std::string& destination) {
    return static_cast<size_t>(std::count_if(config["mounts"].begin(), config["mounts"].end(),
                                             [&](const json& m) { return m["destination"] == destination; }));
}

TEST(OciConfig, RootIdsWithoutUserNamespace) {
    RootIds ids = container_root_ids(rootful_spec());
    EXPECT_EQ(ids.uid, 0u);
    EXPECT_EQ(ids.gid, 0u);
}

TEST(OciConfig, RootIdsFromUserNamespaceMappings) {
    RootIds ids = container_root_ids(rootless_spec());
    EXPECT_EQ(ids.uid, 1000u);
    EXPECT_EQ(ids.gid, 1000u);

    json config = rootless_spec();
    config["linux"]["uidMappings"] = json::array(
        {{{"containerID", 1}, {"hostID", 5000}, {"size", 10}}, {{"containerID", 0}, {"hostID", 100000}, {"size", 1}}});
    config["linux"]["gidMappings"] = json::array({{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}});
    ids = container_root_ids(config);
    EXPECT_EQ(ids.uid, 100000u);
    EXPECT_EQ(ids.gid, 200000u);
}

TEST(OciConfig, UserNamespaceWithoutRootMappingIsAnError) {
    json config = rootless_spec();
    config["linux"].erase("gidMappings");
    EXPECT_THROW(container_root_ids(config), OciError);
}

// Found by fuzz/oci_config.cpp: a hostID of 1e129 was converted to a uint32 (undefined),
// a string one threw json's type_error instead of OciError.
TEST(OciConfig, AnIdThatIsNoUint32MapsNothing) {
    for (const json& bad : {json(1e129), json(-1), json("100000"), json(4294967296ull), json(1.5)}) {
        json config = rootless_spec();
        config["linux"]["uidMappings"] = json::array({{{"containerID", 0}, {"hostID", bad}, {"size", 1}}});
        EXPECT_THROW(container_root_ids(config), OciError) << bad;
        config["linux"]["uidMappings"] = json::array({{{"containerID", bad}, {"hostID", 100000}, {"size", 1}}});
        EXPECT_THROW(container_root_ids(config), OciError) << bad;
    }
}

TEST(OciConfig, RuncAcceptsBindOnlyForItsProcList) {
    EXPECT_TRUE(runc_accepts_bind("/proc/meminfo"));
    EXPECT_TRUE(runc_accepts_bind("/proc/uptime"));
    EXPECT_TRUE(runc_accepts_bind("/proc/slabinfo"));
    EXPECT_TRUE(runc_accepts_bind("/proc//meminfo/"));
    EXPECT_TRUE(runc_accepts_bind("/sys/devices/system/cpu/online"));
    EXPECT_TRUE(runc_accepts_bind("/procfs"));
    EXPECT_FALSE(runc_accepts_bind("/proc/sys"));
    EXPECT_FALSE(runc_accepts_bind("/proc/sys/kernel/hostname"));
    EXPECT_FALSE(runc_accepts_bind("/proc/pressure"));
    EXPECT_FALSE(runc_accepts_bind("/proc"));
    EXPECT_FALSE(runc_accepts_bind("/sys/../proc/sys"));
}

TEST(OciConfig, BindMountsWithLockedFlags) {
    json config = rootless_spec();
    apply_ecifs(config, views, setup);
    const json* meminfo = find_mount(config, "/proc/meminfo");
    ASSERT_NE(meminfo, nullptr);
    EXPECT_EQ((*meminfo)["type"], "bind");
    EXPECT_EQ((*meminfo)["source"], "/run/ecifs/c1/mnt/proc/meminfo");
    EXPECT_EQ((*meminfo)["options"], json({"bind", "nosuid", "nodev", "noexec"}));
    ASSERT_NE(find_mount(config, "/sys/devices/system/cpu/online"), nullptr);
    // Placed after the /sys mount it covers: runc mounts in order.
    EXPECT_EQ(config["mounts"].back()["destination"], "/sys/devices/system/cpu/online");
    EXPECT_EQ(find_mount(config, "/proc/sys"), nullptr);
}

TEST(OciConfig, ProcSysIsPlacedByTheStartHook) {
    json config = rootful_spec();
    apply_ecifs(config, views, setup);
    // createRuntime, which runc runs in its own namespaces: a createContainer hook would
    // take a pid in the container's pid namespace.
    EXPECT_TRUE(hooks_of(config, "createContainer").empty());
    auto start = hooks_of(config, "createRuntime");
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(start[0]["path"], setup.self_exe);
    EXPECT_EQ(start[0]["args"],
              json({setup.self_exe, "ecifs-hook", "start", "rootfs", "/run/ecifs/c1/mnt/proc/sys", "/proc/sys"}));
    auto args = start[0]["args"].get<std::vector<std::string>>();
    PlaceList list = parse_place_args(std::vector<std::string>(args.begin() + 3, args.end()));
    EXPECT_EQ(list.root_path, "rootfs");
    ASSERT_EQ(list.views.size(), 1u);
    EXPECT_EQ(list.views[0], views[1]);
}

TEST(OciConfig, NothingToPlaceWhenRuncPlacesEverything) {
    json config = rootful_spec();
    apply_ecifs(config, std::vector<View>{views[0], views[2]}, setup);
    EXPECT_TRUE(hooks_of(config, "createContainer").empty());
    auto start = hooks_of(config, "createRuntime");
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(start[0]["args"], json({setup.self_exe, "ecifs-hook", "start"}));
}

TEST(OciConfig, StartAndPoststopHooksWithEnvironment) {
    json config = rootful_spec();
    apply_ecifs(config, views, setup);
    auto start = hooks_of(config, "createRuntime");
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(start[0]["path"], setup.self_exe);
    EXPECT_EQ(json(std::vector<json>(start[0]["args"].begin(), start[0]["args"].begin() + 3)),
              json({setup.self_exe, "ecifs-hook", "start"}));
    auto env = start[0]["env"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(env.begin(), env.end(), "ECIFS_SOCKET=/run/ecifs/ecifs.sock"), env.end());
    EXPECT_TRUE(std::any_of(env.begin(), env.end(), [](const std::string& e) { return e.starts_with("PATH=/"); }));
    auto poststop = hooks_of(config, "poststop");
    ASSERT_EQ(poststop.size(), 1u);
    EXPECT_EQ(poststop[0]["args"], json({setup.self_exe, "ecifs-hook", "poststop"}));
}

TEST(OciConfig, IdempotentOnSecondRun) {
    json once = rootless_spec();
    apply_ecifs(once, views, setup);
    json twice = once;
    apply_ecifs(twice, views, setup);
    EXPECT_EQ(once, twice);
    EXPECT_EQ(count_destination(twice, "/proc/meminfo"), 1u);
    EXPECT_EQ(hooks_of(twice, "createRuntime").size(), 1u);
}

TEST(OciConfig, SecondRunWithOtherViewsReplacesTheFirst) {
    json config = rootless_spec();
    apply_ecifs(config, views, setup);
    std::vector<View> other = {{"/run/ecifs/c2/mnt/proc/meminfo", "/proc/meminfo"}};
    apply_ecifs(config, other, setup);
    EXPECT_EQ(count_destination(config, "/proc/meminfo"), 1u);
    EXPECT_EQ((*find_mount(config, "/proc/meminfo"))["source"], "/run/ecifs/c2/mnt/proc/meminfo");
    EXPECT_EQ(find_mount(config, "/sys/devices/system/cpu/online"), nullptr);
    EXPECT_TRUE(hooks_of(config, "createContainer").empty());
    // /proc/sys is no longer a view: its readonlyPaths entry is back.
    auto ro = config["linux"]["readonlyPaths"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(ro.begin(), ro.end(), "/proc/sys"), ro.end());
}

TEST(OciConfig, ExistingHooksAndMountsKept) {
    json config = rootful_spec();
    json theirs = {{"path", "/usr/bin/nvidia-hook"}, {"args", {"nvidia-hook", "prestart"}}};
    config["hooks"]["createRuntime"] = json::array({theirs});
    config["hooks"]["poststop"] = json::array({theirs});
    config["mounts"].push_back({{"destination", "/data"}, {"type", "bind"}, {"source", "/srv"},
                                {"options", {"rbind"}}});
    apply_ecifs(config, views, setup);
    apply_ecifs(config, views, setup);
    auto start = hooks_of(config, "createRuntime");
    ASSERT_EQ(start.size(), 2u);
    EXPECT_EQ(start[0], theirs);  // theirs first, ours appended
    EXPECT_EQ(start[1]["args"][1], "ecifs-hook");
    ASSERT_EQ(hooks_of(config, "poststop").size(), 2u);
    EXPECT_EQ(hooks_of(config, "poststop")[0], theirs);
    EXPECT_EQ(count_destination(config, "/data"), 1u);
}

TEST(OciConfig, ReadonlyPathsCoveredByAViewAreDroppedUnderAUserNamespace) {
    json config = rootless_spec();
    json masked = config["linux"]["maskedPaths"];
    apply_ecifs(config, views, setup);
    auto ro = config["linux"]["readonlyPaths"].get<std::vector<std::string>>();
    EXPECT_EQ(std::find(ro.begin(), ro.end(), "/proc/sys"), ro.end());
    EXPECT_NE(std::find(ro.begin(), ro.end(), "/proc/sysrq-trigger"), ro.end());
    EXPECT_NE(std::find(ro.begin(), ro.end(), "/proc/bus"), ro.end());
    EXPECT_EQ(config["linux"]["maskedPaths"], masked);
}

// Issue 11, item 7: without a user namespace the container's root is the host's, so
// its /proc/sys stays read-only, as runc makes it.
// The kernel's own files bound over the /proc/sys view (kernel.ns_last_pid) get their
// own entries after it: runc's read-only bind of /proc/sys is read-only at its top only.
TEST(OciConfig, WithoutAUserNamespaceProcSysStaysReadOnly) {
    const json original = rootful_spec();
    json config = original;
    apply_ecifs(config, views, setup);
    json expected = original["linux"]["readonlyPaths"];
    expected.push_back("/proc/sys/kernel/ns_last_pid");
    expected.push_back("/proc/sys/vm/memfd_noexec");
    EXPECT_EQ(config["linux"]["readonlyPaths"], expected);
    apply_ecifs(config, views, setup);  // a second run adds nothing more
    EXPECT_EQ(config["linux"]["readonlyPaths"], expected);
    remove_ecifs(config);
    EXPECT_EQ(config, original);
}

// Under a user namespace /proc/sys is the container's to write, and so is its pid
// namespace's ns_last_pid; a read-only directory above a kernel file still covers it.
TEST(OciConfig, KernelFilesFollowTheReadOnlyPathAboveThem) {
    json config = rootless_spec();
    apply_ecifs(config, views, setup);
    auto ro = config["linux"]["readonlyPaths"].get<std::vector<std::string>>();
    EXPECT_EQ(std::count(ro.begin(), ro.end(), "/proc/sys/kernel/ns_last_pid"), 0);
    config = rootless_spec();
    config["linux"]["readonlyPaths"].push_back("/proc/sys/kernel/");
    apply_ecifs(config, views, setup);
    ro = config["linux"]["readonlyPaths"].get<std::vector<std::string>>();
    EXPECT_EQ(ro.back(), "/proc/sys/kernel/ns_last_pid");
    EXPECT_EQ(std::count(ro.begin(), ro.end(), "/proc/sys/vm/memfd_noexec"), 0);
}

TEST(OciConfig, RemoveRestoresTheOriginal) {
    json original = rootless_spec();
    json config = original;
    apply_ecifs(config, views, setup);
    EXPECT_TRUE(config["annotations"].contains("io.ecifs.managed"));
    remove_ecifs(config);
    // A restored readonlyPaths entry comes back at the end.
    auto sorted = [](json paths) {
        auto v = paths.get<std::vector<std::string>>();
        std::sort(v.begin(), v.end());
        return v;
    };
    EXPECT_EQ(sorted(config["linux"]["readonlyPaths"]), sorted(original["linux"]["readonlyPaths"]));
    config["linux"]["readonlyPaths"] = original["linux"]["readonlyPaths"];
    EXPECT_EQ(config, original);
}

// Found by fuzz/oci_config.cpp: a path named twice came back once.
TEST(OciConfig, ARepeatedReadonlyPathComesBackAsOftenAsItWas) {
    json original = rootless_spec();
    original["linux"]["readonlyPaths"].push_back("/proc/sys");
    json config = original;
    apply_ecifs(config, views, setup);
    json again = config;
    apply_ecifs(again, views, setup);
    EXPECT_EQ(again, config);
    remove_ecifs(config);
    auto ro = config["linux"]["readonlyPaths"].get<std::vector<std::string>>();
    EXPECT_EQ(std::count(ro.begin(), ro.end(), "/proc/sys"), 2);
}

TEST(OciConfig, RuntimeMasksAreTheConfigsOwn) {
    json original = rootful_spec();
    const RuntimeMasks before = runtime_masks(original);
    EXPECT_EQ(before.masked, original["linux"]["maskedPaths"].get<std::vector<std::string>>());
    EXPECT_EQ(before.read_only, original["linux"]["readonlyPaths"].get<std::vector<std::string>>());
    // An edited config (a second run of the bundle) still gives them all, /proc/sys too:
    // the daemon leaves out the ones its views cover.
    json config = original;
    apply_ecifs(config, views, setup);
    const RuntimeMasks after = runtime_masks(config);
    EXPECT_EQ(std::set<std::string>(after.read_only.begin(), after.read_only.end()),
              std::set<std::string>(before.read_only.begin(), before.read_only.end()));
    EXPECT_EQ(after.masked, before.masked);
    // Only absolute paths, normalised; no linux section: none.
    config["linux"]["maskedPaths"] = json::array({"/proc//kcore", "relative", 7, "/proc/x/../keys"});
    EXPECT_EQ(runtime_masks(config).masked, (std::vector<std::string>{"/proc/kcore", "/proc/keys"}));
    EXPECT_TRUE(runtime_masks(json{{"ociVersion", "1.0.2"}}).masked.empty());
}

TEST(OciConfig, ViewsFromReply) {
    json reply = json::parse(R"({"ok":true,"mount":"/run/ecifs/c1/mnt",
        "views":[{"source":"/run/ecifs/c1/mnt/proc/uptime","destination":"/proc/uptime"}]})");
    auto v = views_from_reply(reply);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0], (View{"/run/ecifs/c1/mnt/proc/uptime", "/proc/uptime"}));
    EXPECT_THROW(views_from_reply(json::parse(R"({"ok":true})")), OciError);
    EXPECT_THROW(views_from_reply(json::parse(R"({"views":[{"source":"rel","destination":"/proc/x"}]})")),
                 OciError);
}

TEST(OciConfig, PlaceArgs) {
    PlaceList list{"/abs/rootfs", {views[1]}};
    auto args = place_args(list);
    PlaceList back = parse_place_args(args);
    EXPECT_EQ(back.root_path, list.root_path);
    EXPECT_EQ(back.views, list.views);
    EXPECT_THROW(parse_place_args(std::vector<std::string>{"rootfs", "/only-source"}), OciError);
    EXPECT_EQ(resolve_rootfs("rootfs", "/b/c1"), fs::path("/b/c1/rootfs"));
    EXPECT_EQ(resolve_rootfs("/var/lib/r", "/b/c1"), fs::path("/var/lib/r"));
    EXPECT_EQ(resolve_rootfs("./rootfs/", "/b/c1"), fs::path("/b/c1/rootfs/"));
}

class TempDir {
public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "ecifs-oci-XXXXXX").string();
        path_ = ::mkdtemp(templ.data());
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }
private:
    fs::path path_;
};

TEST(OciConfig, WriteAtomicallyKeepsMode) {
    TempDir dir;
    fs::path file = dir.path() / "config.json";
    fs::copy_file(fs::path(ECIFS_FIXTURES_DIR) / "oci/runc-spec.json", file);
    ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
    json config = read_config(file);
    apply_ecifs(config, views, setup);
    write_config_atomically(file, config);
    struct stat st{};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(read_config(file), config);
    EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);  // no temp left
}

TEST(OciConfig, ReadConfigErrors) {
    TempDir dir;
    EXPECT_THROW(read_config(dir.path() / "missing.json"), OciError);
    std::ofstream(dir.path() / "bad.json") << "{not json";
    EXPECT_THROW(read_config(dir.path() / "bad.json"), OciError);
    EXPECT_THROW(write_config_atomically(dir.path() / "missing.json", json::object()), OciError);
}

// ---- seccomp ---------------------------------------------------------------------------

const HookSetup trap_setup{"/usr/local/bin/ecifs-runc", "/run/ecifs/ecifs.sock", "/run/ecifs/seccomp.sock"};

const std::vector<std::string> trapped = {"sysinfo", "mount", "umount2", "umount"};
const std::vector<std::string> enosys = {"fsopen", "fspick", "fsmount", "open_tree", "move_mount"};

// Docker's default profile (moby's format) compiled for amd64 and `caps`, as moby does
// for config.json: rules whose includes/excludes do not match are left out.
json compile_moby(const std::vector<std::string>& caps) {
    json profile = read_config(fs::path(ECIFS_FIXTURES_DIR) / "seccomp/docker-default.json");
    auto has = [&](const json& list) {
        for (const json& c : list)
            if (std::find(caps.begin(), caps.end(), c.get<std::string>()) == caps.end()) return false;
        return true;
    };
    auto any = [&](const json& list) {
        for (const json& c : list)
            if (std::find(caps.begin(), caps.end(), c.get<std::string>()) != caps.end()) return true;
        return false;
    };
    auto names_arch = [](const json& list) {
        for (const json& a : list)
            if (a == "amd64") return true;
        return false;
    };
    json rules = json::array();
    for (const json& rule : profile["syscalls"]) {
        json inc = rule.value("includes", json::object()), exc = rule.value("excludes", json::object());
        if (inc.contains("caps") && !has(inc["caps"])) continue;
        if (inc.contains("arches") && !names_arch(inc["arches"])) continue;
        if (exc.contains("caps") && any(exc["caps"])) continue;
        if (exc.contains("arches") && names_arch(exc["arches"])) continue;
        json out = json::object();
        for (const char* key : {"names", "action", "args", "errnoRet"})
            if (rule.contains(key)) out[key] = rule[key];
        rules.push_back(out);
    }
    return {{"defaultAction", profile["defaultAction"]},
            {"defaultErrnoRet", profile["defaultErrnoRet"]},
            {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
            {"syscalls", rules}};
}

json with_profile(json profile) {
    json config = rootful_spec();
    config["linux"]["seccomp"] = std::move(profile);
    return config;
}

// The actions of the rules without argument conditions that name `name`.
std::vector<std::string> unconditional_actions(const json& seccomp, const std::string& name) {
    std::vector<std::string> actions;
    for (const json& rule : seccomp["syscalls"]) {
        if (rule.contains("args") && !rule["args"].empty()) continue;
        for (const json& n : rule.value("names", json::array()))
            if (n == name) actions.push_back(rule["action"]);
    }
    return actions;
}

// Every syscall has at most one unconditional action: what libseccomp requires.
void expect_one_action_per_syscall(const json& seccomp) {
    std::map<std::string, std::set<std::string>> actions;
    for (const json& rule : seccomp["syscalls"]) {
        if (rule.contains("args") && !rule["args"].empty()) continue;
        for (const json& n : rule["names"]) actions[n.get<std::string>()].insert(rule["action"].get<std::string>());
    }
    for (const auto& [name, set] : actions) EXPECT_EQ(set.size(), 1u) << name;
}

TEST(OciConfigSeccomp, WithoutAProfileOneIsMade) {
    json config = rootful_spec();
    ASSERT_FALSE(config["linux"].contains("seccomp"));
    apply_ecifs(config, views, trap_setup);
    const json& s = config["linux"]["seccomp"];
    EXPECT_EQ(s["defaultAction"], "SCMP_ACT_ALLOW");
    EXPECT_EQ(s["architectures"], json({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
    EXPECT_EQ(s["listenerPath"], "/run/ecifs/seccomp.sock");
    ASSERT_EQ(s["syscalls"].size(), 2u);
    EXPECT_EQ(s["syscalls"][0], json({{"names", trapped}, {"action", "SCMP_ACT_NOTIFY"}}));
    EXPECT_EQ(s["syscalls"][1], json({{"names", enosys}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 38}}));
}

TEST(OciConfigSeccomp, IdempotentAndRemovable) {
    for (json original : {rootful_spec(), with_profile(compile_moby({"CAP_SYS_ADMIN"}))}) {
        json once = original;
        apply_ecifs(once, views, trap_setup);
        json twice = once;
        apply_ecifs(twice, views, trap_setup);
        EXPECT_EQ(twice, once);
        remove_ecifs(twice);
        // The profile as it was (or none); the rest of remove_ecifs has its own tests.
        EXPECT_EQ(twice["linux"].value("seccomp", json()), original["linux"].value("seccomp", json()));
    }
}

TEST(OciConfigSeccomp, WithoutAListenerNothingChanges) {
    json config = with_profile(compile_moby({}));
    json before = config["linux"]["seccomp"];
    apply_ecifs(config, views, setup);
    EXPECT_EQ(config["linux"]["seccomp"], before);
}

TEST(OciConfigSeccomp, DockersDefaultProfileKeepsItsPolicy) {
    // Docker's default capabilities: no CAP_SYS_ADMIN, so mount and the new mount API
    // are forbidden by the profile; sysinfo is allowed.
    json config = with_profile(compile_moby({"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT"}));
    const json before = config["linux"]["seccomp"];
    apply_ecifs(config, views, trap_setup);
    const json& s = config["linux"]["seccomp"];
    EXPECT_EQ(s["defaultAction"], "SCMP_ACT_ERRNO");
    EXPECT_EQ(s["defaultErrnoRet"], 1);
    EXPECT_EQ(s["architectures"], before["architectures"]);
    EXPECT_EQ(s["listenerPath"], "/run/ecifs/seccomp.sock");
    EXPECT_EQ(unconditional_actions(s, "sysinfo"), std::vector<std::string>{"SCMP_ACT_NOTIFY"});
    EXPECT_TRUE(unconditional_actions(s, "mount").empty());  // still forbidden by default
    EXPECT_TRUE(unconditional_actions(s, "umount2").empty());
    EXPECT_TRUE(unconditional_actions(s, "umount").empty());
    EXPECT_TRUE(unconditional_actions(s, "fsopen").empty());
    EXPECT_EQ(unconditional_actions(s, "read"), std::vector<std::string>{"SCMP_ACT_ALLOW"});
    EXPECT_EQ(unconditional_actions(s, "chroot"), std::vector<std::string>{"SCMP_ACT_ALLOW"});
    expect_one_action_per_syscall(s);
    // Nothing else changed: same rules but for sysinfo, plus ecifs's.
    EXPECT_EQ(s["syscalls"].size(), before["syscalls"].size() + 1);
    EXPECT_EQ(s["syscalls"].back(), json({{"names", {"sysinfo"}}, {"action", "SCMP_ACT_NOTIFY"}}));
}

TEST(OciConfigSeccomp, DockersProfileWithSysAdminTrapsMount) {
    json config = with_profile(compile_moby({"CAP_SYS_ADMIN"}));
    apply_ecifs(config, views, trap_setup);
    const json& s = config["linux"]["seccomp"];
    for (const auto& name : trapped) EXPECT_EQ(unconditional_actions(s, name), std::vector<std::string>{"SCMP_ACT_NOTIFY"}) << name;
    for (const auto& name : enosys) EXPECT_EQ(unconditional_actions(s, name), std::vector<std::string>{"SCMP_ACT_ERRNO"}) << name;
    // The rest of the CAP_SYS_ADMIN rule stays as it was.
    EXPECT_EQ(unconditional_actions(s, "unshare"), std::vector<std::string>{"SCMP_ACT_ALLOW"});
    EXPECT_EQ(unconditional_actions(s, "mount_setattr"), std::vector<std::string>{"SCMP_ACT_ALLOW"});
    expect_one_action_per_syscall(s);
}

TEST(OciConfigSeccomp, ExplicitlyForbiddenSyscallsStayForbidden) {
    json config = with_profile({{"defaultAction", "SCMP_ACT_ALLOW"},
                                {"syscalls", {{{"names", {"mount", "reboot"}}, {"action", "SCMP_ACT_ERRNO"}}}}});
    apply_ecifs(config, views, trap_setup);
    const json& s = config["linux"]["seccomp"];
    EXPECT_EQ(unconditional_actions(s, "mount"), std::vector<std::string>{"SCMP_ACT_ERRNO"});
    EXPECT_EQ(unconditional_actions(s, "sysinfo"), std::vector<std::string>{"SCMP_ACT_NOTIFY"});
    EXPECT_EQ(unconditional_actions(s, "umount2"), std::vector<std::string>{"SCMP_ACT_NOTIFY"});
    expect_one_action_per_syscall(s);
}

TEST(OciConfigSeccomp, ConditionalAllowsKeepTheirConditions) {
    const json args = {{{"index", 3}, {"value", 4096}, {"op", "SCMP_CMP_MASKED_EQ"}, {"valueTwo", 0}}};
    json config = with_profile({{"defaultAction", "SCMP_ACT_ERRNO"},
                                {"syscalls",
                                 {{{"names", {"mount"}}, {"action", "SCMP_ACT_ALLOW"}, {"args", args}},
                                  {{"name", "sysinfo"}, {"action", "SCMP_ACT_ALLOW"}},
                                  {{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}}}}});
    apply_ecifs(config, views, trap_setup);
    const json& rules = config["linux"]["seccomp"]["syscalls"];
    // The conditional mount rule became ecifs's, conditions and all; the emptied rules are gone.
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(rules[0], json({{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}}));
    EXPECT_EQ(rules[1], json({{"names", {"mount"}}, {"action", "SCMP_ACT_NOTIFY"}, {"args", args}}));
    EXPECT_EQ(rules[2], json({{"names", {"sysinfo"}}, {"action", "SCMP_ACT_NOTIFY"}}));
}

TEST(OciConfigSeccomp, NothingToTrapMeansNoListener) {
    json config = with_profile({{"defaultAction", "SCMP_ACT_KILL"}, {"syscalls", {{{"names", {"read"}}, {"action", "SCMP_ACT_ALLOW"}}}}});
    json before = config["linux"]["seccomp"];
    apply_ecifs(config, views, trap_setup);
    EXPECT_EQ(config["linux"]["seccomp"], before);
}

TEST(OciConfigSeccomp, AnotherListenerIsAnError) {
    json config = with_profile({{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerPath", "/run/other-agent.sock"}});
    EXPECT_THROW(apply_ecifs(config, views, trap_setup), OciError);
    config = with_profile({{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerPath", "/run/ecifs/seccomp.sock"}});
    EXPECT_NO_THROW(apply_ecifs(config, views, trap_setup));
    config = with_profile("not an object");
    EXPECT_THROW(apply_ecifs(config, views, trap_setup), OciError);
}

}  // namespace
