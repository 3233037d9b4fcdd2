#include "chord/finger_table.hpp"

#include <algorithm>
#include <iterator>
#include <optional>
#include <stdexcept>

namespace chord {

FingerTable::FingerTable(const Ring& ring, const Id& self) : ring_(ring), self_(self), m_(ring.bits()) {}

const NodeRef& FingerTable::node(unsigned i) const {
  static const NodeRef unknown{};
  if (i < 1 || i > m_) throw std::out_of_range("finger index out of range");
  auto it = std::upper_bound(runs_.begin(), runs_.end(), i, [](unsigned x, const FingerRun& r) { return x < r.first; });
  if (it == runs_.begin() || std::prev(it)->last < i) return unknown;
  return std::prev(it)->node;
}

void FingerTable::set(unsigned i, const NodeRef& node) {
  if (i < 1 || i > m_) throw std::out_of_range("finger index out of range");
  // The first run that ends at or after i: it holds i, or i falls before it.
  auto it = std::lower_bound(runs_.begin(), runs_.end(), i, [](const FingerRun& r, unsigned x) { return r.last < x; });
  if (it != runs_.end() && it->first <= i) {
    if (it->node == node) return;
    // Take i out of its run.
    if (it->first == it->last) {
      it = runs_.erase(it);
    } else if (it->first == i) {
      ++it->first;
    } else if (it->last == i) {
      --it->last;
      ++it;
    } else {
      FingerRun tail{i + 1, it->last, it->node};
      it->last = i - 1;
      it = runs_.insert(std::next(it), std::move(tail));
    }
  }
  if (node.uri.empty()) return;
  // it is now the first run after i. Join a neighbour that names the same node and touches i.
  const bool joins_before = it != runs_.begin() && std::prev(it)->last + 1 == i && std::prev(it)->node == node;
  const bool joins_after = it != runs_.end() && it->first == i + 1 && it->node == node;
  if (joins_before && joins_after) {
    std::prev(it)->last = it->last;
    runs_.erase(it);
  } else if (joins_before) {
    std::prev(it)->last = i;
  } else if (joins_after) {
    it->first = i;
  } else {
    runs_.insert(it, FingerRun{i, i, node});
  }
}

bool FingerTable::set_range(unsigned first, unsigned last, const NodeRef& node) {
  if (first < 1 || last > m_ || first > last || node.uri.empty())
    throw std::out_of_range("finger range out of range or empty node");
  // The runs that overlap [first, last]: [lo, hi).
  auto lo = std::lower_bound(runs_.begin(), runs_.end(), first, [](const FingerRun& r, unsigned x) { return r.last < x; });
  auto hi = lo;
  unsigned covered = 0;
  bool other = false;
  for (; hi != runs_.end() && hi->first <= last; ++hi) {
    covered += std::min(hi->last, last) - std::max(hi->first, first) + 1;
    other = other || hi->node.id != node.id;
  }
  const bool changed = other || covered != last - first + 1;
  if (lo != hi && std::next(lo) == hi && lo->node == node && lo->first <= first && lo->last >= last) return changed;
  // What the overlapping runs keep outside the range, then the range itself between them.
  std::optional<FingerRun> head, tail;
  if (lo != hi && lo->first < first) head = FingerRun{lo->first, first - 1, lo->node};
  if (lo != hi && std::prev(hi)->last > last) tail = FingerRun{last + 1, std::prev(hi)->last, std::prev(hi)->node};
  auto at = runs_.erase(lo, hi);
  if (tail) at = runs_.insert(at, std::move(*tail));
  at = runs_.insert(at, FingerRun{first, last, node});
  if (head) at = std::next(runs_.insert(at, std::move(*head)));
  // Join the neighbours that name the same node and touch the range, as set() keeps the runs.
  if (auto next = std::next(at); next != runs_.end() && next->first == last + 1 && next->node == node) {
    at->last = next->last;
    runs_.erase(next);
  }
  if (at != runs_.begin()) {
    auto prev = std::prev(at);
    if (prev->last + 1 == at->first && prev->node == node) {
      prev->last = at->last;
      runs_.erase(at);
    }
  }
  return changed;
}

void FingerTable::forget(const Id& id) {
  std::erase_if(runs_, [&](const FingerRun& r) { return r.node.id == id; });
}

std::vector<FingerEntry> FingerTable::distinct() const {
  std::vector<FingerEntry> out;
  for (const auto& r : runs_) {
    if (!out.empty() && out.back().node == r.node) continue;
    out.push_back(FingerEntry{r.first, start(r.first), r.node});
  }
  return out;
}

void SuccessorList::assign(const NodeRef& successor, const std::vector<NodeRef>& its_list) {
  // Straight into the list, without a joined copy first: this runs in every stabilize round.
  nodes_.clear();
  take(successor);
  for (const auto& n : its_list) take(n);
}

void SuccessorList::assign(const std::vector<NodeRef>& list) {
  nodes_.clear();
  for (const auto& n : list) take(n);
}

void SuccessorList::take(const NodeRef& n) {
  if (nodes_.size() >= r_ || n.uri.empty() || n.id == self_.id || contains(n.id)) return;
  nodes_.push_back(n);
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
