// /proc/cpuinfo: the host's blocks of the container's CPUs, renumbered from 0
// (arch/x86/kernel/cpu/proc.c's show_cpuinfo, one block per CPU, blank line after each).
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "emulation/container.hpp"
#include "handlers/cpu.hpp"
#include "handlers/families.hpp"
#include "handlers/format.hpp"
#include "handlers/resources.hpp"
#include "sys/text.hpp"

namespace ecifs::handlers {

namespace {

using Block = std::vector<std::string_view>;  // lines without their '\n'

std::vector<Block> blocks_of(std::string_view text) {
    std::vector<Block> blocks(1);
    sys::for_each_line(text, [&](std::string_view line) {
        if (!line.empty()) blocks.back().push_back(line);
        else if (!blocks.back().empty()) blocks.emplace_back();
    });
    if (blocks.back().empty()) blocks.pop_back();
    return blocks;
}

// "core id\t\t: 3" -> key "core id", value "3"; a line without ':' has neither.
sys::KeyValue key_value_of(std::string_view line) {
    const auto entry = sys::split_key_value(line, ':');
    return entry ? sys::KeyValue{sys::trim(entry->key), entry->value} : sys::KeyValue{};
}

std::string_view value_of(const Block& block, std::string_view key) {
    for (const auto line : block)
        if (const auto entry = key_value_of(line); entry.key == key) return entry.value;
    return {};
}

// The CPU number of a block; -1 for blocks that describe no CPU.
int processor_of(const Block& block) {
    const auto value = value_of(block, "processor");
    int cpu = -1;
    if (value.empty() || std::from_chars(value.data(), value.data() + value.size(), cpu).ec != std::errc{}) return -1;
    return cpu;
}

// The renumbered topology of the visible CPUs, computed over all of them.
struct Topology {
    std::map<std::string_view, int> siblings, cores;  // per physical id
    std::vector<int> core_ids;                         // per visible CPU
};

Topology topology_of(const std::vector<const Block*>& visible) {
    Topology t;
    std::map<std::pair<std::string_view, std::string_view>, int> core_numbers;
    for (const Block* block : visible) {
        const auto package = value_of(*block, "physical id");
        const auto [it, added] = core_numbers.try_emplace({package, value_of(*block, "core id")}, t.cores[package]);
        if (added) ++t.cores[package];
        ++t.siblings[package];
        t.core_ids.push_back(it->second);
    }
    return t;
}

void put_block(std::string& out, const Block& block, int number, const Topology& topology, std::string_view package) {
    const int core_id = topology.core_ids[static_cast<size_t>(number)];
    for (const auto line : block) {
        const auto key = key_value_of(line).key;
        const auto head = line.substr(0, std::min(line.find(':') + 2, line.size()));  // "core id\t\t: "
        if (key == "processor") fmt::format_to(std::back_inserter(out), "{}{}\n", head, number);
        else if (key == "siblings") fmt::format_to(std::back_inserter(out), "{}{}\n", head, topology.siblings.at(package));
        else if (key == "cpu cores") fmt::format_to(std::back_inserter(out), "{}{}\n", head, topology.cores.at(package));
        else if (key == "core id") fmt::format_to(std::back_inserter(out), "{}{}\n", head, core_id);
        else fmt::format_to(std::back_inserter(out), "{}\n", line);
    }
    out += '\n';
}

}  // namespace

std::string render_cpuinfo(std::string_view host_cpuinfo, const cgroup::CpuList& visible) {
    const auto blocks = blocks_of(host_cpuinfo);
    std::vector<const Block*> chosen;
    for (const int cpu : visible) {
        const auto it = std::find_if(blocks.begin(), blocks.end(), [cpu](const Block& b) { return processor_of(b) == cpu; });
        if (it == blocks.end()) throw std::runtime_error(fmt::format("the host's cpuinfo has no processor {}", cpu));
        chosen.push_back(&*it);
    }
    const auto topology = topology_of(chosen);
    std::string out;
    bool placed = false;  // the visible CPUs go where the host's first CPU block was
    for (const auto& block : blocks) {
        if (processor_of(block) < 0) {
            for (const auto line : block) fmt::format_to(std::back_inserter(out), "{}\n", line);
            out += '\n';
        } else if (!std::exchange(placed, true)) {
            for (size_t i = 0; i < chosen.size(); ++i)
                put_block(out, *chosen[i], static_cast<int>(i), topology, value_of(*chosen[i], "physical id"));
        }
    }
    return out;
}

int show_cpuinfo(const ContainerView& view, std::string& out) {
    out = render_cpuinfo(view.host.read_proc("cpuinfo"), visible_cpus(view.cgroup, view.host));
    return 0;
}

}  // namespace ecifs::handlers
