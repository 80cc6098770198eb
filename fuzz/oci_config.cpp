// ecifs-runc's edits of a bundle's config.json (shim/oci_config.cpp), on any JSON: the
// input is the config (or a daemon's prepare reply, or the start hook's arguments as a
// JSON list). The shim's contract: the functions throw OciError and nothing else, and
// remove_ecifs undoes apply_ecifs.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shim/oci_config.hpp"

namespace shim = ecifs::shim;
using nlohmann::json;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// Views as a daemon on this host replies: some runc binds, some the hook places.
const std::vector<shim::View> views = {
    {"/run/ecifs/containers/c/proc/meminfo", "/proc/meminfo"},
    {"/run/ecifs/containers/c/proc/sys", "/proc/sys"},
    {"/run/ecifs/containers/c/sys/devices/system/cpu", "/sys/devices/system/cpu"},
};

// Without empty lists and objects, which runc reads as absent: apply_ecifs adds "mounts"
// and "hooks" where there were none, and remove_ecifs leaves an empty "mounts".
json without_empties(const json& j) {
    if (!j.is_object()) return j;
    json out = json::object();
    for (const auto& [key, value] : j.items()) {
        json v = without_empties(value);
        if ((v.is_object() || v.is_array()) && v.empty()) continue;
        out[key] = std::move(v);
    }
    return out;
}

// The config as remove_ecifs promises it back: a readonlyPaths entry dropped for a view
// returns at the end of the list (tests/unit/oci_config_test.cpp, RemoveRestoresTheOriginal).
json restorable(const json& config) {
    json out = without_empties(config);
    if (out.contains("linux") && out["linux"].is_object() && out["linux"].contains("readonlyPaths") &&
        out["linux"]["readonlyPaths"].is_array()) {
        json& paths = out["linux"]["readonlyPaths"];
        std::sort(paths.begin(), paths.end());
    }
    return out;
}

void apply_and_remove(const json& config, const std::string& listener) {
    const shim::HookSetup setup{"/usr/local/bin/ecifs-runc", "/run/ecifs/ecifs.sock", listener};
    json edited = config;
    try {
        shim::apply_ecifs(edited, views, setup);
    } catch (const shim::OciError&) {
        return;
    }
    (void)shim::runtime_masks(edited);
    json again = edited;
    shim::apply_ecifs(again, views, setup);  // a second run of the same bundle adds nothing
    check(again == edited);
    // Whatever was there before (an earlier ecifs edit included) is back.
    json before = config;
    shim::remove_ecifs(before);
    shim::remove_ecifs(edited);
    check(restorable(edited) == restorable(before));
}

void place_args(const json& input) {
    if (!input.is_array()) return;
    std::vector<std::string> args;
    for (const json& a : input)
        if (a.is_string()) args.push_back(a.get<std::string>());
    try {
        const shim::PlaceList list = shim::parse_place_args(args);
        check(shim::place_args(list) == args);
    } catch (const shim::OciError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const json input = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (input.is_discarded()) return 0;
    place_args(input);
    if (!input.is_object()) return 0;
    try { (void)shim::container_root_ids(input); } catch (const shim::OciError&) {}
    try { (void)shim::views_from_reply(input); } catch (const shim::OciError&) {}
    try { (void)shim::runtime_masks(input); } catch (const shim::OciError&) {}
    apply_and_remove(input, "");
    apply_and_remove(input, "/run/ecifs/seccomp.sock");
    return 0;
}
