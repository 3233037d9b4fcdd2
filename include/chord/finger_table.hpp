#pragma once
// The paper's finger table: entry i (1 <= i <= m) is the first node that succeeds
// n + 2^(i-1). An empty uri marks an entry not known (yet, or any more).
#include <vector>

#include "chord/id.hpp"
#include "chord/messages.hpp"

namespace chord {

class FingerTable {
 public:
  FingerTable(const Ring& ring, const Id& self);

  unsigned size() const { return static_cast<unsigned>(nodes_.size()); }
  Id start(unsigned i) const { return ring_.finger_start(self_, i); }
  const NodeRef& node(unsigned i) const { return nodes_.at(i - 1); }
  bool known(unsigned i) const { return !node(i).uri.empty(); }
  void set(unsigned i, const NodeRef& node) { nodes_.at(i - 1) = node; }
  // Drops every entry that points at a failed node.
  void forget(const Id& id);
  // Entries that differ from the one before: the few distinct nodes worth showing.
  std::vector<FingerEntry> distinct() const;
  const std::vector<NodeRef>& entries() const { return nodes_; }

 private:
  Ring ring_;
  Id self_;
  std::vector<NodeRef> nodes_;
};

// The paper's successor list of length r: the first live entry is the successor.
class SuccessorList {
 public:
  SuccessorList(const NodeRef& self, unsigned r) : self_(self), r_(r) {}

  bool empty() const { return nodes_.empty(); }
  // The successor; the node itself when it knows no other (a ring of one).
  const NodeRef& first() const { return nodes_.empty() ? self_ : nodes_.front(); }
  const std::vector<NodeRef>& nodes() const { return nodes_; }
  unsigned capacity() const { return r_; }

  // successor followed by the list it reported: the stabilize rule for successor lists.
  // The node itself and duplicates are dropped; the list is cut to r.
  void assign(const NodeRef& successor, const std::vector<NodeRef>& its_list);
  void assign(const std::vector<NodeRef>& list);
  // Puts a newly learned successor in front (a node that joined between us and our successor).
  void push_front(const NodeRef& node);
  bool remove(const Id& id);
  bool contains(const Id& id) const;

 private:
  NodeRef self_;
  unsigned r_;
  std::vector<NodeRef> nodes_;
};

}  // namespace chord
