// The load sampler. A tick walks each container's cgroup (its tasks files) and reads
// /proc/TID/stat once per thread, so its cost is linear in the containers' threads.
// Measured (tests/integration/test_resources.py::test_load_sampler_cost_with_100_containers,
// 100 containers of one thread each, on the 2-vCPU development VM while other builds ran):
// 5-15 ms per tick on one pool thread, i.e. 50-150 us per container and at most 0.3% of
// one CPU at one tick per 5 s.
#include "daemon/load_sampler.hpp"

#include <chrono>
#include <exception>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "emulation/loadavg.hpp"

namespace ecifs::daemon {

LoadSampler::LoadSampler(boost::asio::io_context& io, Containers containers)
    : strand_(boost::asio::make_strand(io)), timer_(strand_), containers_(std::move(containers)) {}

void LoadSampler::start() {
    boost::asio::post(strand_, [this] {
        timer_.expires_after(std::chrono::seconds(0));
        arm();
    });
}

void LoadSampler::stop() {
    boost::asio::post(strand_, [this] {
        stopped_ = true;
        timer_.cancel();
    });
}

void LoadSampler::arm() {
    if (stopped_) return;
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        tick();
        // The next tick one period after this one's deadline: no drift.
        timer_.expires_at(timer_.expiry() + emulation::LoadAverage::period);
        arm();
    });
}

void LoadSampler::tick() {
    const auto begin = std::chrono::steady_clock::now();
    const auto containers = containers_();
    const auto threads = sample(containers, begin);
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - begin);
    spdlog::trace("load sampler: {} containers, {} threads in {} us", containers.size(), threads, took.count());
}

size_t LoadSampler::sample(const std::vector<std::shared_ptr<emulation::Container>>& containers,
                           emulation::LoadAverage::Clock::time_point now) {
    size_t threads = 0;
    for (const auto& container : containers) {
        try {
            threads += emulation::refresh_load(*container, now);
        } catch (const std::exception& e) {  // a container that is going away
            spdlog::debug("container {}: load not sampled: {}", container->id(), e.what());
        }
    }
    return threads;
}

}  // namespace ecifs::daemon
