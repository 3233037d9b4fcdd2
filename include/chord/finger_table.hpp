#pragma once
// The paper's finger table: entry i (1 <= i <= m) is the first node that succeeds
// n + 2^(i-1). An empty uri marks an entry not known (yet, or any more).
#include <vector>

#include "chord/id.hpp"
#include "chord/messages.hpp"

namespace chord {

// Entries first..last (1-based) of a finger table all point at node.
struct FingerRun {
  unsigned first = 0;
  unsigned last = 0;
  NodeRef node;
};

class FingerTable {
 public:
  FingerTable(const Ring& ring, const Id& self);

  unsigned size() const { return m_; }
  Id start(unsigned i) const { return ring_.finger_start(self_, i); }
  // Entry i, or an empty NodeRef when it is not known.
  const NodeRef& node(unsigned i) const;
  bool known(unsigned i) const { return !node(i).uri.empty(); }
  void set(unsigned i, const NodeRef& node);
  // Entries first..last all name node (not empty), in one step: fix_fingers sets a stretch at
  // once, where one set() per entry was a tenth of a simulation's instructions. Whether any of
  // them was unknown or named another node before.
  bool set_range(unsigned first, unsigned last, const NodeRef& node);
  // Drops every entry that points at a failed node.
  void forget(const Id& id);
  // Entries that differ from the one before: the few distinct nodes worth showing.
  std::vector<FingerEntry> distinct() const;
  // The known entries, in order of i, as runs of entries that name the same node. In a ring of
  // N nodes the m entries hold about log2 N distinct nodes: keeping one copy per run makes a
  // table about log2 N NodeRefs instead of m (a simulated ring of 10^5 nodes spent most of its
  // memory on copies of the same URIs), and routing scans that many.
  const std::vector<FingerRun>& runs() const { return runs_; }

 private:
  Ring ring_;
  Id self_;
  unsigned m_;
  std::vector<FingerRun> runs_;
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
  // Appends n unless the list is full, n is this node, or n is listed already.
  void take(const NodeRef& n);
  NodeRef self_;
  unsigned r_;
  std::vector<NodeRef> nodes_;
};

}  // namespace chord
