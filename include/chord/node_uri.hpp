#pragma once
// The URI of a node as NodeRefs carry it: one immutable string shared by every copy. Routing
// copies NodeRefs on every step (finger runs, successor lists, lookup replies); with a plain
// std::string each copy of a URI longer than the small-string buffer was an allocation and a
// copy, the largest cost of a simulated ring of 10^5 nodes. Reads see a const std::string&.
#include <atomic>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace chord {

class NodeUri {
 public:
  NodeUri() = default;
  NodeUri(std::string uri)  // NOLINT: implicit, as the std::string it replaces
      : bits_(uri.empty() ? 0 : reinterpret_cast<std::uintptr_t>(new Text(std::move(uri)))) {}
  NodeUri(const char* uri) : NodeUri(std::string(uri)) {}  // NOLINT
  NodeUri(std::string_view uri) : NodeUri(std::string(uri)) {}  // NOLINT

  // A URI kept for the life of the process, one per text: its copies count nothing. Each copy
  // of a counted URI writes the count on the string's line, and in a simulated ring of 10^5
  // nodes that line is another node's, cold: a fifth of the time went to copying NodeRefs
  // whose URIs were then never read. Only for URIs a process makes itself (the simulator's
  // nodes), never for ones a peer sends: those could fill the table without bound.
  static NodeUri pinned(std::string_view uri);

  NodeUri(const NodeUri& other) noexcept : bits_(other.bits_) { retain(); }
  NodeUri(NodeUri&& other) noexcept : bits_(std::exchange(other.bits_, 0)) {}
  NodeUri& operator=(const NodeUri& other) noexcept {
    if (this != &other) {
      other.retain();
      release();
      bits_ = other.bits_;
    }
    return *this;
  }
  NodeUri& operator=(NodeUri&& other) noexcept {
    if (this != &other) {
      release();
      bits_ = std::exchange(other.bits_, 0);
    }
    return *this;
  }
  ~NodeUri() { release(); }

  const std::string& str() const { return text() ? text()->text : empty_text(); }
  operator const std::string&() const { return str(); }  // NOLINT
  bool empty() const { return bits_ == 0; }
  std::size_t size() const { return str().size(); }
  const char* c_str() const { return str().c_str(); }
  bool starts_with(std::string_view prefix) const { return str().starts_with(prefix); }

  friend bool operator==(const NodeUri& a, const NodeUri& b) {
    return a.text() == b.text() || a.str() == b.str();
  }

  // Where this URI led the last time one in-process network was asked for it, shared by every
  // copy: a call then finds its endpoint without looking the URI up in a map of every node (in a
  // simulated ring of 10^5 nodes that lookup, a cache miss per bucket and string, was a fifth of
  // the time). Only the in-process network uses it, and only from its nodes' one thread; null
  // for an empty URI.
  struct Route {
    std::uint64_t network = 0;  // which network (ids are never reused), 0: none yet
    void* endpoint = nullptr;   // that network's endpoint for this URI
  };
  Route* route() const { return text() ? &text()->route : nullptr; }
  friend bool operator==(const NodeUri& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const NodeUri& a, const char* b) { return a.str() == b; }
  friend std::ostream& operator<<(std::ostream& out, const NodeUri& u) { return out << u.str(); }

 private:
  static const std::string& empty_text() {
    static const std::string empty;
    return empty;
  }
  struct Text {
    explicit Text(std::string t) : text(std::move(t)) {}
    std::string text;
    mutable Route route;
    mutable std::atomic<std::uint32_t> refs{1};  // unused when pinned
  };
  // The Text's address, its low bit set when pinned (Text is aligned, so the bit is free): a
  // copy then tells from its own bits, without reading the Text, that there is nothing to count.
  static constexpr std::uintptr_t kPinned = 1;
  Text* text() const { return reinterpret_cast<Text*>(bits_ & ~kPinned); }
  bool counted() const { return bits_ != 0 && (bits_ & kPinned) == 0; }
  void retain() const {
    if (counted()) text()->refs.fetch_add(1, std::memory_order_relaxed);
  }
  void release() {
    // acq_rel: the last owner's delete must see every other owner's reads done, as shared_ptr.
    if (counted() && text()->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete text();
    bits_ = 0;
  }
  std::uintptr_t bits_ = 0;
};

}  // namespace chord

template <>
struct fmt::formatter<chord::NodeUri> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const chord::NodeUri& u, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(u.str()), ctx);
  }
};
