/* SPDX-License-Identifier: GPL-2.0 */
/*
 * purge_model.pml - a Promela model (spin) of VmapArena's slot lifecycle
 * and purge protocol, and of the module's retired-page release.
 *
 *   map -> LIVE -> DIRTY -> PURGING -> FREE, with numbered purges, the
 *   dirty-page threshold, two CPUs, steal, borrow and the retired pages.
 *
 * selftests/model/run.sh (make -C selftests/model check) verifies the
 * three ltl properties at the end of this file, and that spin finds the
 * bug in each mutation (spin -D<name> -a purge_model.pml):
 *   BUG_FREE_BEFORE_PURGE       a slot freed before its purge's shootdown
 *                               (begin_purge() straight to free): breaks
 *                               no_stale_reuse;
 *   BUG_COVERING_OFF_BY_ONE     release() names purges_started_, not
 *                               purges_started_ + 1: a page is freed
 *                               before its purge; breaks no_early_free;
 *   BUG_SKIP_WITHOUT_SHOOTDOWN  purge_locked() without its third pass: a
 *                               purge that skipped a held queue and moved
 *                               nothing completes with no shootdown,
 *                               though an unmap in that queue named it;
 *                               breaks no_early_free.
 *
 * Where each part lives in the code:
 *   vmap_arena.h  VmapArena::map(), alloc_local(), alloc_in(), steal(),
 *                 detach(), attach_and_alloc(), grow(), borrow(), unmap(),
 *                 unmap_locked(), release(), purge_if_idle(),
 *                 purge_if_needed(), purge_needed(), purge_and_release(),
 *                 purge_locked(), end(), try_for_a_while(), purge_work(),
 *                 flushed_seq(); VmapBlockQueueState::add(), remove(),
 *                 refile(), dirtied() (the lists, see below)
 *   vmap_block.h  VmapBlock::alloc(), release_to_dirty(), begin_purge(),
 *                 end_purge(), empty()
 *   cxxvm_buf.c   cxxvm_mapping_destroy_locked() (a buffer's purge_seq),
 *                 cxxvm_pages_release(), cxxvm_reap_retired(),
 *                 cxxvm_unmap_handle() (which reaps after an unmap)
 *   cxxvm_arena.c cxxvm_arena_purged() (the worker's purged callback)
 *
 * Scale: two CPUs (one thread each, never migrating) and the purge
 * worker; two blocks of two one-page slots (max_blocks = 2);
 * lazy_max_pages = 2 and so report_chunk_ = 1 (report_chunk() for
 * lazy_max_pages < 4 x CPUs).  Two constants are not the code's, so that
 * their paths are reached at this scale: the cap is 2 x lazy_max_pages
 * (kCapFactor is 16), and grow_limit_ is 1 (the code's grow_limit() gives
 * at least 2 x CPUs here, more than max_blocks).
 *
 * Simplified or left out:
 *  - Every slot is one page (order 0).  VmapBlock::alloc() takes the
 *    lowest free slot; a queue's partly used and empty blocks are taken
 *    in block index order.
 *  - A queue's lists are not modelled: its blocks are those it owns.
 *    The code's begin() and end() walk only unclean_blocks, and the model
 *    assumes what VmapArena::misfiled_blocks() checks in the hosted tests
 *    and the fuzzer: whenever the queue's lock is free, every block with
 *    a dirty or purging slot is on it (dirtied() on every unmap; end()
 *    takes a block off only when nothing is dirty or purging there).
 *  - Memory is sequentially consistent, so the fences in release() and
 *    purge_locked() and the acquire/release pairs are taken to do their
 *    job: the model checks the protocol, not the C++ memory model.
 *  - No block is ever returned to vmalloc: release_surplus() keeps
 *    reserve_ >= 2 x CPUs empty blocks, more than exist here.  So
 *    shrink(), purge() (FLUSH), destroy(), the spares list, the
 *    VmapIndex seqcount and unmap_locked()'s retry when a block moved or
 *    was recycled are not modelled; the model asserts that the block of
 *    a live slot never changes owner (steal() takes empty blocks only),
 *    which is why that retry is never needed here.
 *  - caller_purge = 0 only (the default: the worker purges).
 *  - Granularity.  Each critical section of a queue lock is one atomic
 *    step, except in unmap(), whose release() leaves the lock held for a
 *    step, so that a purge can find it held and skip the queue; map()'s
 *    critical sections never look held to a purge.  A purge is two steps
 *    (its first pass and, if no queue was held, the shootdown; then the
 *    purging -> free pass and purges_done_), three if a queue was held
 *    (the second and third passes and the shootdown in between).
 *    try_for_a_while()'s kSkipTries tries are one try, made a step after
 *    the first (the holder may or may not have let go meanwhile).  A
 *    buffer's page release, the reap after it, the next buffer's page and
 *    the next map's alloc_local() are one step: the first three touch
 *    nothing but page T, and an interleaving that tells them apart ends
 *    with T in the same state as one the model has.
 *  - Queue locks are not fair: a purge waiting for one may be overtaken
 *    any number of times (liveness holds all the same).
 *  - steal() may skip the other queue whatever its lock and blocks: its
 *    lock stayed held for kSkipTries tries, or Queue::empty_hint, read
 *    without the lock, had not yet seen the purge's last pass that
 *    emptied a block there.
 *  - cxxvm_reap_retired()'s shortcut (return if cxxvm_reaped_seq == done)
 *    and the reaped_seq fix-up in cxxvm_pages_release() are left out: the
 *    model's reap always looks.  The shortcut only ever makes a reap free
 *    nothing.  The retired lists are a set here: their order, which makes
 *    cxxvm_reap_cut()'s cut at the first page still waiting a filter, is
 *    not checked.
 *  - A mapper holds one mapping at a time (map, unmap, free the buffer,
 *    reap, again), and a buffer has one mapping (its purge_seq is that
 *    unmap's number): dirty slots still fill the blocks, which is what
 *    makes steal, grow, borrow and the purges on map()'s paths happen.
 *
 * Purge numbers are kept relative to purges_done_, which keeps the state
 * space finite and is exact for every comparison the code makes:
 *  - pif is purges_started_ - purges_done_ (0 or 1: purges run one at a
 *    time, under purge_mutex_);
 *  - trel is max(0, T's covering purge - purges_done_): "seq <=
 *    cxxvm_arena_purged_seq()" is trel == 0, and each completed purge
 *    takes one off;
 *  - seen_chg[c] is "purges_done_ != seen" for CPU c's map() (dead, and
 *    so kept at 1, while that CPU is not in map()).
 *
 * Ghost state (written, never read by the protocol; each run keeps only
 * what its property needs, see run.sh):
 *  - stale[s] (unless NO_GHOST_TLB): some TLB may hold a translation of
 *    slot s other than what its PTE maps now.  P::ptes_clear() makes
 *    whatever was cached stale; a shootdown (P::tlb_shootdown(): a full
 *    flush on every CPU) clears it.
 *  - Page T (unless NO_TRACK_PAGE): one page, which any CPU may take for
 *    any buffer while it is free; what holds for T holds for every page.
 *    trk[s]: some TLB may translate slot s to T (set when a PTE maps T,
 *    since any CPU may touch the mapping at once; after a shootdown, only
 *    if the PTE still maps T).  tpst: T in the page allocator, in a
 *    buffer, or retired (on cxxvm_retired[]).
 */

#define NCPU	2
#define NB	2		/* max_blocks */
#define NS	4		/* slots: block b has slots 2b and 2b+1 */
#define LAZY	2		/* params_.lazy_max_pages */
#define CAP	4		/* the cap (kCapFactor = 2 here, 16 in the code) */
#define GROW_LIMIT 1		/* grow_limit_ */

#define NONE	255
#define NOOWNER	2		/* VmapBlock::kNoOwner */

/* Slot states: VmapBlock's bitmaps free_, head_ (live), dirty_, purging_. */
#define FREE	0
#define LIVE	1
#define DIRTY	2
#define PURGING	3

/* Page T's states (cxxvm_buf.c). */
#define PG_FREE		0	/* in the page allocator */
#define PG_BUF		1	/* in a buffer */
#define PG_PARKED	2	/* retired: on cxxvm_retired[] */
#define NOSEQ		3	/* trel: no C++ unmap since it was allocated */

/* purge_locked()'s walk_ states, and Walk. */
#define W_BEGUN		1	/* kBegun */
#define W_HELD		2	/* kHeld */
#define W_SKIPPED	3	/* kSkipped */
#define W_ENDED		4	/* kEnded: begun, nothing purging there */
#define ALL		0	/* Walk::kAll */
#define MAYSKIP		1	/* Walk::kMaySkip */

/* VmapArena::Reason, as far as purge_if_needed() is concerned. */
#define R_THROTTLED	0
#define R_NOROOM	1
#define R_NOROOMNOGROW	2

/* Holders of purge_mutex_ and the queue locks: CPU c is c + 1. */
#define WORKER	3

/* ---- The arena (VmapArena, VmapBlockQueueState, VmapBlock) ---- */

byte st[NS];			/* each slot's state (VmapBlock bitmaps) */
byte owner[NB] = NOOWNER;	/* VmapBlock::owner_: whose queue's list */
bool inuse[NB];			/* reserved by grow() */
byte nr_blocks;			/* VmapArena::nr_blocks_ */
byte cur[NCPU] = NONE;		/* VmapBlockQueueState::current */
byte qlock[NCPU];		/* the queue spinlocks: 0 or the holder */
byte reported[NCPU];		/* VmapBlockQueueState::reported */
byte dirty_reported;		/* VmapArena::dirty_reported_ */
byte mutex;			/* VmapArena::purge_mutex_: 0 or the holder */
bool work_pending;		/* VmapArena::work_ queued, not started */
bool pif;			/* purges_started_ - purges_done_ */
bool seen_chg[NCPU] = 1;	/* purges_done_ != map()'s seen */
byte wk[NCPU];			/* VmapArena::walk_ (under purge_mutex_) */
byte moved;			/* purge_locked()'s moved (under the mutex) */
byte bq;			/* moved before begin() (scratch, ditto) */
byte skipped;			/* purge_locked()'s skipped (ditto) */

/* ---- Ghosts ---- */

bool stale[NS];			/* a TLB may hold an old translation of s */
bool trk[NS];			/* a TLB may translate slot s to page T */
byte tslot = NONE;		/* the slot whose PTE maps T, or NONE */
byte tpst;			/* T's state, PG_* */
byte trel = NOSEQ;		/* T's covering purge - purges_done_ */

#ifndef NO_GHOST_TLB
#define STALE_SET(s)	stale[s] = 1
#define STALE_FLUSH	stale[0] = 0; stale[1] = 0; stale[2] = 0; stale[3] = 0
#else
#define STALE_SET(s)	skip
#define STALE_FLUSH	skip
#endif

#ifndef NO_TRACK_PAGE
#define TRK_FLUSH	trk[0] = (tslot == 0); trk[1] = (tslot == 1); \
			trk[2] = (tslot == 2); trk[3] = (tslot == 3)
#else
#define TRK_FLUSH	skip
#endif

/*
 * REACHED(i) marks a place that run.sh checks the search reaches (the
 * "@reach" names in the comments).  With -DWITNESS, pan prints
 * "reached i" the first time the search gets there (a C array outside
 * the state vector remembers it); else it is a no-op.
 */
#ifdef WITNESS
c_decl { int reach_seen[64]; }
#define REACHED(i)	c_code { if (!reach_seen[i]) { reach_seen[i] = 1; printf("reached %d\n", i); } }
#else
#define REACHED(i)	skip
#endif

#define EMPTY(b)	(st[2 * (b)] == FREE && st[2 * (b) + 1] == FREE)

/* ---- The retired pages (cxxvm_buf.c) ---- */

/* __free_page(T); T has no purge number any more. */
inline free_t()
{
	tpst = PG_FREE;
	trel = NOSEQ
}

/*
 * cxxvm_reap_retired(false): done = cxxvm_arena_purged_seq(); under
 * cxxvm_retired_lock, cut the retired pages whose seq <= done
 * (cxxvm_reap_cut()) and free them.  One step here, inside the caller's:
 * the code's reap frees T iff T is retired at its cut and T's seq is <=
 * the done it read before, which is what this step does if run when done
 * was read (T not retired yet: it frees nothing) or at the cut (seq <=
 * that done <= done now); it touches nothing but T.  The code frees after
 * dropping the lock: a page nothing maps gains no TLB entry meanwhile.
 */
inline reap()
{
	if
	:: tpst == PG_PARKED && trel == 0 ->
		REACHED(0);	/* @reach reap_frees */
		free_t()
	:: else
	fi
}

/* ---- The queue locks ---- */

/* A CPU waits for queue q's lock (with_queue()).  Locks are not fair
 * here: a waiting purge may be overtaken any number of times. */
#define CAN_LOCK(q)	(qlock[q] == 0)
/* A purge waits for queue q's lock (with_queue()). */
#define PURGE_WAIT(q)	qlock[q] == 0

/* ---- The purge (vmap_arena.h) ---- */

#ifdef BUG_FREE_BEFORE_PURGE
/*
 * Mutation, "a slot freed before its purge": begin_purge() makes the
 * dirty slots free at once, before the shootdown that covers them (as if
 * end_purge() ran in the first pass).
 */
#define BEGIN_TO FREE
#else
#define BEGIN_TO PURGING
#endif

/*
 * purge_locked()'s begin(), under q's lock: VmapBlock::begin_purge() on
 * every block of the queue with a dirty slot (dirty -> purging; the code
 * walks unclean_blocks), and the queue's reported
 * pages leave dirty_reported_; walk_[q] = kBegun if anything is purging
 * there now, else kEnded (the last pass skips it).
 */
inline begin_q(q)
{
	bq = moved;
	if
	:: owner[0] == q ->
		if
		:: st[0] == DIRTY ->
			REACHED(1);	/* @reach begin_purge */
			st[0] = BEGIN_TO; moved++
		:: else
		fi;
		if :: st[1] == DIRTY -> st[1] = BEGIN_TO; moved++ :: else fi
	:: else
	fi;
	if
	:: owner[1] == q ->
		if :: st[2] == DIRTY -> st[2] = BEGIN_TO; moved++ :: else fi;
		if :: st[3] == DIRTY -> st[3] = BEGIN_TO; moved++ :: else fi
	:: else
	fi;
	dirty_reported = dirty_reported - reported[q];
	reported[q] = 0;
	if :: moved != bq -> wk[q] = W_BEGUN :: else -> wk[q] = W_ENDED fi;
	bq = 0
}

/* purge_locked()'s end(), under q's lock: VmapBlock::end_purge() on every
 * block of the queue with a purging slot (purging -> free; the code walks
 * unclean_blocks). */
inline end_q(q)
{
	if
	:: owner[0] == q ->
		if
		:: st[0] == PURGING ->
			REACHED(2);	/* @reach end_purge */
			st[0] = FREE
		:: else
		fi;
		if :: st[1] == PURGING -> st[1] = FREE :: else fi
	:: else
	fi;
	if
	:: owner[1] == q ->
		if :: st[2] == PURGING -> st[2] = FREE :: else fi;
		if :: st[3] == PURGING -> st[3] = FREE :: else fi
	:: else
	fi
}

/* if (moved) P::tlb_shootdown() */
inline shootdown()
{
	if
	:: moved > 0 ->
		REACHED(3);	/* @reach shootdown */
		STALE_FLUSH; TRK_FLUSH
	:: else
	fi
}

/*
 * VmapArena::purge_locked(walk); the caller holds purge_mutex_.
 * purge_begin() runs inside the caller's atomic step that took the mutex:
 * seq = purges_started_ + 1 and purges_started_.store(seq) (pif), the
 * fence, then the first pass, queues_[q]->try_with(begin) on each queue;
 * held = some queue was found held.  If none was, the shootdown follows
 * in the same step (an unmap in between would find this purge begun, name
 * the next one, and leave its slot dirty for it).
 */
inline purge_begin(held)
{
	pif = 1;
	if
	:: qlock[0] == 0 -> begin_q(0)
	:: else ->
		REACHED(4);	/* @reach purge_finds_held */
		wk[0] = W_HELD
	fi;
	if :: qlock[1] == 0 -> begin_q(1) :: else -> wk[1] = W_HELD fi;
	held = (wk[0] == W_HELD || wk[1] == W_HELD);
	if :: !held -> shootdown() :: else fi
}

/* The second pass for queue q: one found held is waited for (kAll:
 * with_queue()) or tried again (kMaySkip: try_for_a_while()) and, if it
 * is still held, skipped: its dirty slots stay dirty for the next purge. */
inline pass2(q, walk)
{
	if
	:: wk[q] == W_HELD && walk == ALL ->
		REACHED(5);	/* @reach purge_waits_held */
		PURGE_WAIT(q); begin_q(q)
	:: wk[q] == W_HELD && walk == MAYSKIP ->
		if
		:: qlock[q] == 0 -> begin_q(q)
		:: else ->
			REACHED(6);	/* @reach purge_skips_queue */
			wk[q] = W_SKIPPED; skipped++
		fi
	:: else
	fi
}

/* The third pass: no queue taken had anything dirty, so wait for the
 * skipped ones rather than shoot down for nothing. */
inline pass3(q)
{
	if
#ifndef BUG_SKIP_WITHOUT_SHOOTDOWN
	:: skipped > 0 && moved == 0 && wk[q] == W_SKIPPED ->
		REACHED(7);	/* @reach purge_waits_skipped */
		PURGE_WAIT(q); begin_q(q); skipped--
#endif
	:: else
	fi
}

/*
 * Mutation BUG_SKIP_WITHOUT_SHOOTDOWN: no third pass, so a purge that
 * skipped a held queue and moved nothing completes with no shootdown,
 * though an unmap in the skipped queue may have named it (release()).
 */

/* The purging -> free pass on every begun queue (try_with(end), then
 * with_queue(end) for those held: the same end result). */
inline pass4(q)
{
	if
	:: wk[q] == W_BEGUN -> PURGE_WAIT(q); end_q(q)
	:: wk[q] == W_ENDED && qlock[q] != 0 ->
		REACHED(25)	/* @reach last_pass_passes_held */
	:: else
	fi;
	wk[q] = 0
}

/*
 * The rest of purge_locked(): if a queue was held, the second and third
 * passes and the shootdown (one step, but a wait for a lock lets others
 * run); then the purging -> free pass and purges_done_.store(seq), which
 * completes purge seq for flushed_seq() and cxxvm_arena_purged_seq().
 * freed = "moved != 0" (purge_and_release()'s result; its
 * release_surplus() never returns a block here); purge_mutex_ is dropped.
 * For the worker the same step goes on with the rest of purge_work().
 */
inline purge_rest(walk, held, freed)
{
	if
	:: held ->
		atomic {
			pass2(0, walk);
			pass2(1, walk);
			pass3(0);
			pass3(1);
			shootdown();
			held = 0
		}
	:: else
	fi;
	atomic {
		pass4(0);
		pass4(1);
		assert(st[0] != PURGING && st[1] != PURGING &&
		       st[2] != PURGING && st[3] != PURGING);
		/* purges_done_.store(seq, release) */
		REACHED(8);	/* @reach purge_completes */
		pif = 0;
		if :: trel == 1 || trel == 2 -> trel-- :: else fi;
		seen_chg[0] = 1;
		seen_chg[1] = 1;
		freed = (moved > 0);
		moved = 0;
		skipped = 0;
		need = 0;
		mutex = 0;
		if :: _pid == 0 -> worker_tail() :: else fi
	}
}

/*
 * The end of VmapArena::purge_work(), after the mutex is dropped: queue
 * itself again if a purge is still due (it skipped a held queue), then
 * the purged callback, cxxvm_arena_purged() (cxxvm_arena.c), reaps.
 */
inline worker_tail()
{
	if
	:: dirty_reported >= LAZY ->
		REACHED(9);	/* @reach worker_requeues */
		work_pending = 1
	:: else
	fi;
	reap()
}

/*
 * The purge worker, VmapArena::purge_work(): when queued, take
 * purge_mutex_ and purge (Walk::kMaySkip) if purge_needed(kThreshold):
 * dirty_reported_ still reaches lazy_max_pages.
 */
active proctype Worker()
{
	bool need, held;

end_idle:
	do
	:: atomic {
		work_pending -> work_pending = 0;	/* the work starts */
		mutex == 0 -> mutex = WORKER;
		if
		:: dirty_reported >= LAZY ->
			REACHED(10);	/* @reach worker_purge */
			need = 1; purge_begin(held)
		:: else -> mutex = 0; worker_tail()
		fi
	   };
		if
		:: need -> purge_rest(MAYSKIP, held, need)
		:: else
		fi
	od
}

/* ---- The CPUs: map() and unmap() (vmap_arena.h) ---- */

/* VmapBlock::alloc() in block b: its lowest free slot, or NONE. */
inline block_alloc(b, res)
{
	if
	:: st[2 * (b)] == FREE -> res = 2 * (b)
	:: else ->
		if :: st[2 * (b) + 1] == FREE -> res = 2 * (b) + 1 :: else fi
	fi
}

/*
 * VmapArena::alloc_in(queue q), under q's lock: the current block, then
 * the first partly used block with room, then the first empty one.  If a
 * slot is found, map() is done but for P::ptes_set(), which the model
 * does here (the code writes the PTEs after dropping the lock: nobody
 * else can reach the slot meanwhile, and a shootdown in between would
 * leave the TLBs as it does before).
 */
inline alloc_in(q, res)
{
	res = NONE;
	if :: cur[q] != NONE -> block_alloc(cur[q], res) :: else fi;
	if
	:: res == NONE ->
		e = NONE;
		k = 0;
		do
		:: k < NB ->
			if
			:: owner[k] == q && k != cur[q] ->
				if
				:: EMPTY(k) -> if :: e == NONE -> e = k :: else fi
				:: else -> block_alloc(k, res)
				fi
			:: else
			fi;
			if :: res != NONE -> break :: else -> k++ fi
		:: else -> break
		od;
		if :: res == NONE && e != NONE -> block_alloc(e, res) :: else fi;
		if :: res != NONE -> cur[q] = res / 2 :: else fi;
		e = 0;
		k = 0
	:: else
	fi;
	if
	:: res != NONE ->
		st[res] = LIVE;			/* VmapBlock::alloc() */
		/* P::ptes_set(); any CPU may cache the translation now */
		if :: mine -> tslot = res; trk[res] = 1 :: else fi;
		seen_chg[c] = 1;		/* map() returns: seen is dead */
		throttled = 0;
		growerr = 0
	:: else
	fi
}

/*
 * purge_if_needed(why, seen): wait for purge_mutex_, then purge, with
 * walk_for(why), unless purge_needed() says another purge completed since
 * seen (or, kNoRoom, that there is room for a new block now); retry =
 * "the caller may retry": the purge freed pages, or none was needed.
 */
inline purge_if_needed(why, retry)
{
	atomic {
		mutex == 0 -> mutex = me;
		if
		:: why == R_NOROOM && nr_blocks < NB -> need = 0
		:: else -> need = !seen_chg[c]
		fi;
		if
		:: need -> purge_begin(held)
		:: else -> mutex = 0; retry = 1
		fi;
		if
		:: why == R_THROTTLED ->
			REACHED(18);	/* @reach throttled */
			walk = MAYSKIP
		:: why == R_NOROOMNOGROW ->
			REACHED(19);	/* @reach no_room_no_grow */
			walk = ALL
		:: why == R_NOROOM ->
			REACHED(20);	/* @reach no_room */
			walk = ALL
		fi;
		why = 0
	};
	if
	:: need -> purge_rest(walk, held, retry)
	:: else
	fi
}

/*
 * purge_if_idle(why): only if purge_mutex_ is free (try_lock()), and
 * only if purge_needed() still holds (kThreshold: dirty_reported_ >=
 * lazy_max_pages; kCap: >= the cap), a Walk::kMaySkip purge; freed =
 * "it freed pages".
 */
inline purge_if_idle(limit, freed)
{
	atomic {
		freed = 0;
		if
		:: mutex == 0 && dirty_reported >= limit ->
			if
			:: limit == LAZY ->
				REACHED(14)	/* @reach map_threshold_purge */
			:: else ->
				REACHED(23)	/* @reach cap_purge */
			fi;
			mutex = me; need = 1; purge_begin(held)
		:: else
		fi
	};
	if
	:: need -> purge_rest(MAYSKIP, held, freed)
	:: else
	fi
}

/*
 * One CPU (one thread on it), forever: a buffer of one page; MAP it
 * through the arena; UNMAP it; free the buffer (its page waits for the
 * covering purge if need be) and reap, as cxxvm_unmap_handle() does.
 */
active [NCPU] proctype Cpu()
{
	byte c = _pid - 1;	/* this CPU */
	byte me = _pid;		/* lock holder id: c + 1 */
	byte oth = 1 - c;	/* the other CPU */
	byte s = NONE, b, o, e, k, why, walk;
	bool mine;		/* this buffer's page is T */
	bool throttled, growerr, retry, need, held, purge_now, over_cap;

next_buffer:
	/* The end of the last buffer: cxxvm_buf_free() ->
	 * cxxvm_pages_release() frees its page now if seq <=
	 * cxxvm_arena_purged_seq(), else retires it; cxxvm_reap_retired()
	 * follows (cxxvm_unmap_handle()).  The next buffer's page
	 * (cxxvm_buf_alloc()) is T if T is free, or another one: any page
	 * could be the one watched.  Its MAP: map() reads seen =
	 * purges_done_, then 1. alloc_local(), the local queue. */
	atomic {
		if
		:: mine && trel == 0 ->
			REACHED(11);	/* @reach freed_at_once */
			free_t()
		:: mine && trel != 0 ->
			REACHED(12);	/* @reach retired */
			tpst = PG_PARKED
		:: else
		fi;
		reap();
#ifndef NO_TRACK_PAGE
		if
		:: tpst == PG_FREE -> tpst = PG_BUF; mine = 1
		:: true -> mine = 0
		fi;
#else
		mine = 0;
#endif
		seen_chg[c] = 0;
		CAN_LOCK(c) -> alloc_in(c, s)
	};
	goto map_loop;

	/* map() starts again: seen = purges_done_; alloc_local() */
map_again:
	atomic {
		retry = 0;
		growerr = 0;
		seen_chg[c] = 0;
		CAN_LOCK(c) -> alloc_in(c, s)
	};

map_loop:
	/* 2. steal(): if the other CPU's queue lock is free (one held is
	 * skipped: try_for_a_while()), under it find an empty block and
	 * detach() it (no owner in between); then attach_and_alloc() under
	 * ours */
	if
	:: s == NONE ->
		atomic {
			b = NONE;
			if
			:: CAN_LOCK(oth)
			:: true ->
				/* the lock held for kSkipTries, or the hint,
				 * read without it, still 0 though a purge's
				 * last pass has just emptied a block there */
				REACHED(24);	/* @reach steal_skips */
				goto steal_done
			fi;
			if
			:: owner[0] == oth && EMPTY(0) -> b = 0
			:: else ->
				if :: owner[1] == oth && EMPTY(1) -> b = 1 :: else fi
			fi;
			if
			:: b != NONE ->
				owner[b] = NOOWNER;
				if :: cur[oth] == b -> cur[oth] = NONE :: else fi;
				CAN_LOCK(c) ->
				REACHED(13);	/* @reach steal */
				owner[b] = c; cur[c] = b; alloc_in(c, s)
			:: else
			fi;
steal_done:
			b = 0
		}
	:: else
	fi;

	/* A purge is due and none is running (the worker has not run yet):
	 * purge_if_idle(kThreshold); start again if it freed pages */
	if
	:: s == NONE && dirty_reported >= LAZY ->
		purge_if_idle(LAZY, retry);
		if
		:: retry -> goto map_again
		:: else
		fi
	:: else
	fi;

	/* throttled: a purge is due and grow_limit_ blocks exist.  Else
	 * 3. grow(): take a place under max_blocks (the CAS on nr_blocks_),
	 * reserve the VA, which may fail (to_spares(); map() keeps the
	 * errno), then attach_and_alloc() */
	if
	:: s == NONE ->
		atomic {
			throttled = (dirty_reported >= LAZY && nr_blocks >= GROW_LIMIT);
			if
			:: !throttled && nr_blocks < NB ->
				nr_blocks++;
				if :: !inuse[0] -> b = 0 :: else -> b = 1 fi;
				inuse[b] = 1;
				if
				:: CAN_LOCK(c) ->
					REACHED(15);	/* @reach grow */
					owner[b] = c; cur[c] = b; alloc_in(c, s)
				:: true ->
					REACHED(16);	/* @reach grow_fails */
					inuse[b] = 0; nr_blocks--; growerr = 1
				fi;
				b = 0
			:: else
			fi
		}
	:: else
	fi;

	/* 4. borrow(): a slot in the other CPU's block, which stays there */
	if
	:: s == NONE ->
		atomic {
			CAN_LOCK(oth) -> alloc_in(oth, s);
			if
			:: s != NONE ->
				REACHED(17)	/* @reach borrow */
			:: else
			fi
		}
	:: else
	fi;

	if
	:: s != NONE -> skip
	:: s == NONE ->
		/* wait for the purge in flight, or run one: kThrottled; or
		 * 5. a purge (kNoRoom, kNoRoomNoGrow after a failed grow),
		 * then start again, -ENOMEM if it did nothing */
		if
		:: throttled -> why = R_THROTTLED
		:: !throttled && growerr -> why = R_NOROOMNOGROW
		:: !throttled && !growerr -> why = R_NOROOM
		fi;
		purge_if_needed(why, retry);
		if
		:: throttled || retry -> throttled = 0; walk = 0; goto map_again
		:: else ->
			/* -ENOMEM: the buffer is freed (purge_seq 0) */
			atomic {
				REACHED(21);	/* @reach enomem */
				walk = 0;
				growerr = 0;
				if :: mine -> free_t(); mine = 0 :: else fi
			};
			goto next_buffer
		fi
	fi;

	/* ---- VmapArena::unmap() ---- */
	/* unmap_locked(): the block's owner, read without its lock, then
	 * that queue's lock; release() under it: P::ptes_clear() (what a
	 * TLB holds of the slot is stale now), release_to_dirty(), the
	 * report (report_chunk_ = 1), the fence, and covering =
	 * purges_started_ + 1, which becomes the buffer's purge_seq
	 * (cxxvm_mapping_destroy_locked()).  The lock stays held for a
	 * step: a purge may find it so. */
	atomic {
		o = owner[s / 2];
		assert(o != NOOWNER);
		CAN_LOCK(o) -> qlock[o] = me;
		assert(owner[s / 2] == o);
		STALE_SET(s);
		if :: tslot == s -> tslot = NONE :: else fi;
		st[s] = DIRTY;
		reported[o]++;
		dirty_reported++;
		purge_now = (dirty_reported >= LAZY);
		over_cap = (dirty_reported >= CAP);
		if
		:: mine ->
#ifdef BUG_COVERING_OFF_BY_ONE
			trel = pif		/* mutation: purges_started_ */
#else
			trel = pif + 1
#endif
		:: else
		fi
	};
	/* drop the lock; unmap(): work_.queue() at the threshold */
	atomic {
		qlock[o] = 0;
		if
		:: o != c ->
			REACHED(22)	/* @reach unmap_other_queue */
		:: else
		fi;
		o = 0;
		s = NONE;
		if :: purge_now -> work_pending = 1 :: else fi;
		purge_now = 0
	};
	/* ... and purge_if_idle(kCap) at the cap */
	if
	:: over_cap ->
		purge_if_idle(CAP, retry);
		atomic { over_cap = 0; retry = 0 }
	:: else
	fi;
	goto next_buffer
}

/* ---- Properties ---- */

#ifndef NO_GHOST_TLB
/*
 * 1. No slot is handed out while a TLB may hold its old translation: a
 *    live slot (map() has handed it out) has no stale translation.
 */
#define HANDOUT_OK(s)	(!(st[s] == LIVE && stale[s]))
ltl no_stale_reuse { [] (HANDOUT_OK(0) && HANDOUT_OK(1) && HANDOUT_OK(2) && HANDOUT_OK(3)) }
#endif

#ifndef NO_TRACK_PAGE
/*
 * 2. No page is freed before the purge covering it completes: while page
 *    T is in the page allocator, no TLB may translate any slot to it.
 */
ltl no_early_free { [] (tpst != PG_FREE || !(trk[0] || trk[1] || trk[2] || trk[3])) }
#endif

/*
 * 3. Every dirty slot is eventually freed.  Checked with weak fairness
 *    (pan -a -f) and under the assumption that the CPUs keep mapping and
 *    unmapping (they do here, forever).  The code is lazy on purpose:
 *    below lazy_max_pages dirty pages wait for the next purge, so once
 *    nothing unmaps any more a dirty slot may stay dirty until FLUSH,
 *    shrink or destroy.  While CPUs keep unmapping, the threshold (the
 *    worker) or a map() that finds no room brings that purge.
 */
#define EVENTUALLY_FREE(s)	(st[s] == DIRTY -> <> (st[s] == FREE))
ltl dirty_freed { [] (EVENTUALLY_FREE(0) && EVENTUALLY_FREE(1) &&
		      EVENTUALLY_FREE(2) && EVENTUALLY_FREE(3)) }
