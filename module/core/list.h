// SPDX-License-Identifier: GPL-2.0
//
// An intrusive doubly linked list: the node lives in the object (struct
// list_head's model), so linking never allocates.
#pragma once

#include <cxxrt/std.h>

namespace cxxvm {

/// The link a listed object inherits (one list at a time per link).
/// Unlinked: both pointers null.  An object on two lists at once inherits
/// two distinct types derived from it, one per list (as a struct embeds
/// two list_heads), and names the one each list uses.
struct ListNode {
	ListNode *prev = nullptr;
	ListNode *next = nullptr;
};

/// A circular list of T through the Node (a ListNode) they inherit, like
/// list_head.  Not thread-safe: the owner's lock protects it.
template <typename T, typename Node = ListNode>
	requires ktl::derived_from<T, Node> && ktl::derived_from<Node, ListNode>
class IntrusiveList {
public:
	IntrusiveList() { head_.prev = head_.next = &head_; }
	IntrusiveList(const IntrusiveList &) = delete;
	IntrusiveList &operator=(const IntrusiveList &) = delete;

	[[nodiscard]] bool empty() const { return head_.next == &head_; }

	/// Whether @t is on a list through Node (this one or another).
	[[nodiscard]] static bool linked(const T *t) { return node(t)->next != nullptr; }

	/// The first element, or nullptr.
	[[nodiscard]] T *front() const { return empty() ? nullptr : owner(head_.next); }

	void push_front(T *t) { link(node(t), &head_, head_.next); }

	/// Unlink @t, which must be on this list.
	void remove(T *t)
	{
		ListNode *n = node(t);
		n->prev->next = n->next;
		n->next->prev = n->prev;
		n->prev = n->next = nullptr;
	}

	/// Unlink and return the first element, or nullptr.
	T *pop_front()
	{
		if (empty())
			return nullptr;
		T *t = owner(head_.next);
		remove(t);
		return t;
	}

	/// Call @fn(T *) for each element; @fn may remove the element it is
	/// given (but no other).
	template <typename Fn>
	void for_each(Fn &&fn)
	{
		for (ListNode *n = head_.next, *next; n != &head_; n = next) {
			next = n->next;
			fn(owner(n));
		}
	}

	/// The first element for which @pred(T *) holds, or nullptr.
	template <typename Pred>
	[[nodiscard]] T *find(Pred &&pred)
	{
		for (ListNode *n = head_.next; n != &head_; n = n->next) {
			if (pred(owner(n)))
				return owner(n);
		}
		return nullptr;
	}

private:
	static void link(ListNode *n, ListNode *prev, ListNode *next)
	{
		n->prev = prev;
		n->next = next;
		prev->next = n;
		next->prev = n;
	}

	static ListNode *node(T *t) { return static_cast<Node *>(t); }
	static const ListNode *node(const T *t) { return static_cast<const Node *>(t); }
	/// container_of(): every node but the head is a T's base.
	static T *owner(ListNode *n) { return static_cast<T *>(static_cast<Node *>(n)); }

	ListNode head_;
};

} // namespace cxxvm
