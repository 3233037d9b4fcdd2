#pragma once
// The URI of a node as NodeRefs carry it: one immutable string shared by every copy. Routing
// copies NodeRefs on every step (finger runs, successor lists, lookup replies); with a plain
// std::string each copy of a URI longer than the small-string buffer was an allocation and a
// copy, the largest cost of a simulated ring of 10^5 nodes. Reads see a const std::string&.
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace chord {

class NodeUri {
 public:
  NodeUri() = default;
  NodeUri(std::string uri)  // NOLINT: implicit, as the std::string it replaces
      : text_(uri.empty() ? nullptr : std::make_shared<const Text>(std::move(uri))) {}
  NodeUri(const char* uri) : NodeUri(std::string(uri)) {}  // NOLINT
  NodeUri(std::string_view uri) : NodeUri(std::string(uri)) {}  // NOLINT

  const std::string& str() const { return text_ ? text_->text : empty_text(); }
  operator const std::string&() const { return str(); }  // NOLINT
  bool empty() const { return !text_; }
  std::size_t size() const { return str().size(); }
  const char* c_str() const { return str().c_str(); }
  bool starts_with(std::string_view prefix) const { return str().starts_with(prefix); }

  friend bool operator==(const NodeUri& a, const NodeUri& b) { return a.text_ == b.text_ || a.str() == b.str(); }

  // Where this URI led the last time one in-process network was asked for it, shared by every
  // copy: a call then finds its endpoint without looking the URI up in a map of every node (in a
  // simulated ring of 10^5 nodes that lookup, a cache miss per bucket and string, was a fifth of
  // the time). Only the in-process network uses it, and only from its nodes' one thread; null
  // for an empty URI.
  struct Route {
    std::uint64_t network = 0;  // which network (ids are never reused), 0: none yet
    void* endpoint = nullptr;   // that network's endpoint for this URI
  };
  Route* route() const { return text_ ? &text_->route : nullptr; }
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
  };
  std::shared_ptr<const Text> text_;
};

}  // namespace chord

template <>
struct fmt::formatter<chord::NodeUri> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const chord::NodeUri& u, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(u.str()), ctx);
  }
};
