#include "sharer.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chord/blocking.hpp"
#include "chord/tuple_awaitable.hpp"

namespace chord::share {
namespace fs = std::filesystem;

namespace {

// What the events in buf say, together (every event leads to one rescan anyway). Not in a
// coroutine: inotify_event ends in a flexible array, which a coroutine frame cannot hold.
std::uint32_t masks_of(const char* buf, std::size_t n) {
  std::uint32_t all = 0;
  for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
    inotify_event e;
    std::memcpy(&e, buf + at, sizeof e);
    all |= e.mask;
    at += sizeof(inotify_event) + e.len;
  }
  return all;
}

}  // namespace

Result<std::shared_ptr<Sharer>> Sharer::create(std::shared_ptr<Node> node, ShareOptions options) {
  std::error_code ec;
  auto dir = fs::canonical(options.dir, ec);
  if (ec || !fs::is_directory(dir, ec))
    return make_error(Errc::invalid_argument, fmt::format("--share {}: not a directory{}", options.dir.string(),
                                                          ec ? ": " + ec.message() : ""));
  options.dir = dir;
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return make_error(Errc::internal, fmt::format("--share: inotify: {}", std::strerror(errno)));
  constexpr std::uint32_t events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB |
                                   IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF;
  if (::inotify_add_watch(fd, dir.c_str(), events) < 0) {
    auto e = make_error(Errc::internal, fmt::format("--share {}: inotify: {}", dir.string(), std::strerror(errno)));
    ::close(fd);
    return e;
  }
  auto sharer = std::shared_ptr<Sharer>(new Sharer(std::move(node), std::move(options), fd));
  sharer->node_->set_shared_folder(sharer->server_);
  return sharer;
}

Sharer::Sharer(std::shared_ptr<Node> node, ShareOptions options, int inotify_fd)
    : node_(std::move(node)),
      options_(std::move(options)),
      server_(std::make_shared<FolderServer>(options_.dir, node_->self(), node_->ring(), node_->config().chunk_bytes)),
      publisher_(*node_, node_->self().uri, options_.timeout, options_.ttl),
      events_(node_->executor(), inotify_fd),
      wake_(node_->executor()) {}

Sharer::~Sharer() = default;

void Sharer::start() {
  asio::co_spawn(node_->executor(), [self = shared_from_this()] { return self->watch(); }, asio::detached);
  asio::co_spawn(node_->executor(), [self = shared_from_this()] { return self->run(); }, asio::detached);
}

asio::awaitable<void> Sharer::watch() {
  std::array<char, 8192> buf;
  for (;;) {
    auto [ec, n] = co_await events_.async_read_some(asio::buffer(buf), tuple_awaitable);
    if (ec) {
      if (ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor)
        spdlog::warn("share: watching {} stopped: {}", options_.dir.string(), ec.message());
      co_return;
    }
    if (masks_of(buf.data(), n) & (IN_DELETE_SELF | IN_MOVE_SELF))
      spdlog::warn("share: {} was removed or moved: nothing is shared until it is back and the node restarts",
                   options_.dir.string());
    changed_ = true;
    wake_.cancel();
  }
}

asio::awaitable<void> Sharer::rescan() {
  auto previous = server_->index();
  auto dir = options_.dir;
  // Named: a temporary with a non-trivial destructor inside co_await is a g++ 12 hazard.
  auto scan = [dir, previous] { return scan_folder(dir, *previous); };
  auto scanned = co_await run_blocking(&server_->pool(), std::move(scan));
  if (!scanned) {
    spdlog::warn("share: {}", scanned.error().message);
    co_return;
  }
  for (const auto& [name, why] : scanned->skipped)
    if (auto was = skipped_.find(name); was == skipped_.end() || was->second != why)
      spdlog::warn("share: not sharing '{}': {}", name, why);
  skipped_ = scanned->skipped;
  if (scanned->files.size() != previous->files.size())
    spdlog::info("share: {} files in {}", scanned->files.size(), dir.string());
  server_->update(std::make_shared<const FolderIndex>(std::move(*scanned)));
}

asio::awaitable<void> Sharer::run() {
  using clock = std::chrono::steady_clock;
  const auto every = std::max<clock::duration>(options_.ttl / 3, std::chrono::seconds(1));
  // The first publish waits (a few seconds at most) until the node has a predecessor or is
  // alone: records written while the ring is still forming land on nodes that hand them on a
  // moment later, and a read meanwhile may miss them.
  for (auto give_up = clock::now() + std::chrono::seconds(3); clock::now() < give_up && !stopped_;) {
    if (node_->predecessor() || node_->successors().first().id == node_->self().id) break;
    asio::steady_timer pause(node_->executor(), std::chrono::milliseconds(50));
    co_await pause.async_wait(tuple_awaitable);
  }
  auto next_refresh = clock::now();
  while (!stopped_) {
    const auto round_start = clock::now();
    const bool refresh = round_start >= next_refresh;
    if (!refresh && changed_) {
      // Let a copy into the folder finish before hashing it.
      asio::steady_timer settle(node_->executor(), options_.settle);
      co_await settle.async_wait(tuple_awaitable);
    }
    changed_ = false;
    co_await rescan();
    if (stopped_) break;
    running_ = true;
    const auto index = server_->index();  // held: a rescan may replace it meanwhile
    const auto failed = co_await publisher_.publish(*index, refresh, clock::time_point::max());
    running_ = false;
    // From the round's start: a long publish does not stretch the time between refreshes.
    if (refresh) next_refresh = round_start + every;
    if (stopped_ || changed_) continue;
    // Keys that failed are tried again soon, not a whole refresh period later.
    wake_.expires_at(failed ? std::min(next_refresh, clock::now() + std::chrono::seconds(2)) : next_refresh);
    co_await wake_.async_wait(tuple_awaitable);
  }
  running_ = false;
}

asio::awaitable<void> Sharer::withdraw(std::chrono::steady_clock::time_point deadline) {
  stopped_ = true;
  publisher_.interrupt();
  wake_.cancel();
  boost::system::error_code ignored;
  events_.close(ignored);
  // The loop may be inside a publish: one publisher writes at a time.
  while (running_ && std::chrono::steady_clock::now() < deadline) {
    asio::steady_timer pause(node_->executor(), std::chrono::milliseconds(20));
    co_await pause.async_wait(tuple_awaitable);
  }
  if (running_) co_return;
  const auto failed = co_await publisher_.withdraw(deadline);
  if (failed) spdlog::warn("share: {} entries could not be withdrawn; they expire within {} s", failed, options_.ttl.count());
}

}  // namespace chord::share
