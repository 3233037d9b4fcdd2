#include "chord/node_uri.hpp"

#include <mutex>
#include <unordered_map>

namespace chord {

NodeUri NodeUri::pinned(std::string_view uri) {
  if (uri.empty()) return {};
  // Never freed: a pinned URI's copies hold no count, so none may outlive its Text. The table
  // holds the texts a process chose to pin (the simulator's nodes), bounded by its own making.
  // The table itself is never destroyed either: copies may be read by static destructors, and
  // a leak checker at exit must still find the texts reachable.
  static std::mutex mutex;
  static auto* table = new std::unordered_map<std::string_view, Text*>;
  std::lock_guard lock(mutex);
  auto it = table->find(uri);
  if (it == table->end()) {
    auto* t = new Text(std::string(uri));
    it = table->emplace(std::string_view(t->text), t).first;
  }
  NodeUri out;
  out.bits_ = reinterpret_cast<std::uintptr_t>(it->second) | kPinned;
  return out;
}

}  // namespace chord
