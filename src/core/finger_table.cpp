#include "chord/finger_table.hpp"

#include <algorithm>

namespace chord {

FingerTable::FingerTable(const Ring& ring, const Id& self)
    : ring_(ring), self_(self), nodes_(ring.bits()) {}

void FingerTable::forget(const Id& id) {
  for (auto& n : nodes_)
    if (!n.uri.empty() && n.id == id) n = NodeRef{};
}

std::vector<FingerEntry> FingerTable::distinct() const {
  std::vector<FingerEntry> out;
  for (unsigned i = 1; i <= size(); ++i) {
    const auto& n = node(i);
    if (n.uri.empty()) continue;
    if (!out.empty() && out.back().node == n) continue;
    out.push_back(FingerEntry{i, start(i), n});
  }
  return out;
}

void SuccessorList::assign(const NodeRef& successor, const std::vector<NodeRef>& its_list) {
  std::vector<NodeRef> list;
  list.reserve(its_list.size() + 1);
  list.push_back(successor);
  list.insert(list.end(), its_list.begin(), its_list.end());
  assign(list);
}

void SuccessorList::assign(const std::vector<NodeRef>& list) {
  nodes_.clear();
  for (const auto& n : list) {
    if (nodes_.size() >= r_) break;
    if (n.uri.empty() || n.id == self_.id || contains(n.id)) continue;
    nodes_.push_back(n);
  }
}

void SuccessorList::push_front(const NodeRef& node) {
  std::vector<NodeRef> list;
  list.reserve(nodes_.size() + 1);
  list.push_back(node);
  list.insert(list.end(), nodes_.begin(), nodes_.end());
  assign(list);
}

bool SuccessorList::remove(const Id& id) {
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const NodeRef& n) { return n.id == id; });
  if (it == nodes_.end()) return false;
  nodes_.erase(it);
  return true;
}

bool SuccessorList::contains(const Id& id) const {
  return std::any_of(nodes_.begin(), nodes_.end(), [&](const NodeRef& n) { return n.id == id; });
}

}  // namespace chord
