#pragma once
// The load sampler: one timer on the daemon's io_context that every LOAD_FREQ (5 s)
// folds each container's active tasks into its load average (emulation/loadavg.hpp).
// Like every source on the loop, it re-arms itself; stop() cancels it.
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "emulation/container.hpp"

namespace ecifs::daemon {

class LoadSampler {
public:
    using Containers = std::function<std::vector<std::shared_ptr<emulation::Container>>()>;

    // `containers` lists the containers to sample; it is called once per tick.
    LoadSampler(boost::asio::io_context& io, Containers containers);

    void start();  // the first tick now, then one every period
    void stop();   // thread-safe; pending ticks end

    // One tick's work, for every container: count its tasks and fold them where a
    // period has ended. Returns the number of threads looked at.
    static size_t sample(const std::vector<std::shared_ptr<emulation::Container>>& containers,
                         emulation::LoadAverage::Clock::time_point now);

private:
    void arm();
    void tick();

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer timer_;
    Containers containers_;
    bool stopped_ = false;  // on the strand
};

}  // namespace ecifs::daemon
