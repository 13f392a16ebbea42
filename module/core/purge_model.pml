/* SPDX-License-Identifier: GPL-2.0 */
/*
 * purge_model.pml - a Promela model (spin) of VmapArena's slot lifecycle
 * and purge protocol, and of the module's retired-page release.
 *
 *   map -> LIVE -> DIRTY (the block's current generation, named for the
 *   latest purge any of its slots names) -> OLDER (the older generation,
 *   once a slot names a later purge) -> FREE (reclaimed once its
 *   generation's purge completed, or, for OLDER, at once when the next
 *   generation starts), with numbered purges, the dirty-page threshold,
 *   two CPUs, steal, borrow, the worker's sweep and the retired pages.
 *
 * selftests/model/run.sh (make -C selftests/model check) verifies the
 * three ltl properties at the end of this file, and that spin finds the
 * bug in each mutation (spin -D<name> -a purge_model.pml):
 *   BUG_RECLAIM_UNCOVERED       VmapBlock::reclaim() without its
 *                               "covering() <= done" and
 *                               "older_covering_ <= done" tests: a
 *                               block's dirty slots are freed before the
 *                               purge that covers them completes; breaks
 *                               no_stale_reuse;
 *   BUG_COVERING_OFF_BY_ONE     release() names purges_started_, not
 *                               purges_started_ + 1 (the block's and the
 *                               buffer's number): a page is freed before
 *                               its purge; breaks no_early_free;
 *   BUG_COVERING_ONLY_ON_SHIFT  release_to_dirty() sets covering() = seq
 *                               only when it starts a new generation, not
 *                               when dirty_ was empty: the first slot
 *                               dirtied in a clean block keeps the
 *                               number of the purge that last freed the
 *                               block, one already completed, and the
 *                               next reclaim frees it before its own
 *                               purge; breaks no_stale_reuse.
 *
 * Where each part lives in the code:
 *   vmap_arena.h  VmapArena::map(), alloc_local(), reclaim_if_behind(),
 *                 reclaim(), looks_reclaimable(), alloc_in(), steal(),
 *                 detach(), attach_and_alloc(), grow(), borrow(), unmap(),
 *                 unmap_locked(), release(), purge_if_idle(),
 *                 purge_if_needed(), purge_needed(), purge_and_release(),
 *                 purge_locked(), sweep(), publish_empties(),
 *                 purge_work(), flushed_seq(); Queue::empty_hint,
 *                 unclean_hint, reclaimed_hint; VmapBlockQueueState::add(),
 *                 remove(), refile(), dirtied(), reclaimed (the lists,
 *                 see below)
 *   vmap_block.h  VmapBlock::alloc(), release_to_dirty(), make_free(),
 *                 reclaim(), covering(), unclean(), empty(); the
 *                 generations dirty_ (covering_) and older_
 *                 (older_covering_)
 *   cxxvm_buf.c   cxxvm_mapping_destroy_locked() (a buffer's purge_seq),
 *                 cxxvm_pages_release(), cxxvm_reap_retired(),
 *                 cxxvm_unmap_handle() (which reaps after an unmap)
 *   cxxvm_arena.c cxxvm_arena_purged() (the worker's purged callback)
 *
 * Scale: two CPUs (one thread each, never migrating) and the purge
 * worker; two blocks of two one-page slots (max_blocks = 2; -DSPB=3
 * gives three slots a block, see below);
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
 *  - With two slots a block, a block with pages in both generations has
 *    no live slot left, so no unmap starts a generation while older_ has
 *    pages: release_to_dirty()'s at-once free of older_ is not reached
 *    (reclaim() freeing older_ alone is: reclaim_frees_older_only).
 *    With -DSPB=3 (three slots a block) it is, and the model asserts
 *    there that older_covering_'s purge has completed; but a full search
 *    does not fit (the safety run stopped at the 8 GB -DMEMLIM bound
 *    after 40 million states), so run.sh does not run it.  There spin
 *    finds a stale reuse at once in -DBUG_SHIFT_ON_EQUAL (a generation
 *    also starts when seq == covering(), so the third slot to name a
 *    purge frees the first before that purge has begun).
 *  - A queue's lists are not modelled: its blocks are those it owns.
 *    reclaim() and Walk::kAll's check walk only unclean_blocks, and the
 *    model assumes what VmapArena::misfiled_blocks() checks in the hosted
 *    tests and the fuzzer: whenever the queue's lock is free, the blocks
 *    on it are those with a page in dirty_ (VmapBlock::unclean(); older_
 *    has pages only if dirty_ has), and nr_unclean counts them (dirtied()
 *    on every unmap; reclaim() takes a block off when it makes it clean,
 *    and only then: a block whose older_ alone it freed keeps its dirty_
 *    and stays; steal() takes empty blocks only).
 *  - Memory is sequentially consistent, so the fences in release() and
 *    purge_locked() (which takes no queue lock: they alone order an
 *    unmap's PTE clears before the shootdown of the purge it names) and
 *    the acquire/release pairs (among them release()'s acquire read of
 *    purges_started_, on which release_to_dirty()'s at-once free of
 *    older_ relies) are taken to do their job, and a hint read
 *    without the lock reads what was last written.  unclean_hint and
 *    reclaimed_hint are written in every critical section that changes
 *    nr_unclean or reclaimed, so the model reads those (UNCLEAN(),
 *    rl[]); empty_hint is kept (ehint[]): the owner allocates from an
 *    empty block without writing it, so it may overcount.
 *  - No block is ever returned to vmalloc: the worker's release_surplus()
 *    returns blocks only past the code's grow_limit_ (at least 2 x CPUs,
 *    more than max_blocks here; the model's grow_limit_ of 1 serves the
 *    throttle only), so release_empty_blocks() and its reclaims never
 *    run.  shrink(), purge() (FLUSH), destroy(), stats() (which reclaims
 *    too), the spares list, the VmapIndex seqcount and unmap_locked()'s
 *    retry when a block moved or was recycled are not modelled: a
 *    Walk::kAll purge comes from a map() with no room only.  The model
 *    asserts that the block of a live slot never changes owner (steal()
 *    takes empty blocks only), which is why that retry is never needed
 *    here.
 *  - caller_purge = 0 only (the default: the worker purges).
 *  - Granularity.  Each critical section of a queue lock is one atomic
 *    step, except in unmap(), whose release() leaves the lock held for a
 *    step, so that the sweep, steal(), borrow(), map()'s alloc_local()
 *    or a Walk::kAll purge can find it held; map()'s critical sections
 *    never look held to others.  A purge is three steps: (1)
 *    purges_started_, the exchange of dirty_reported_, Walk::kAll's check
 *    of every queue and the shootdown; (2) purges_done_; (3) the sweep
 *    (Walk::kMaySkip) or the reclaim of every queue (Walk::kAll), and
 *    purge_mutex_ is dropped.  A wait for a queue lock within (1) or (3)
 *    lets others run.  An unmap between the bump of purges_started_ and
 *    the shootdown, which (1) leaves out unless it waits, names the next
 *    purge as one just after the shootdown does, and would only leave
 *    the ghosts cleaner: the new generation it may start in its block
 *    frees only older_, whose purge, an earlier one, has completed.  (So
 *    the model cannot catch a release_to_dirty() that frees, when a
 *    generation starts, the pages still waiting for the purge in flight,
 *    dirty_ instead of older_: here a purge has shot down once it has
 *    begun, unless its Walk::kAll check waits, and then no dirty slot
 *    names it.)  map()'s read of seen and alloc_local() are one
 *    step, but if the local queue's lock is held the step waits after
 *    the read (purges may complete meanwhile).  try_for_a_while()'s kSkipTries
 *    tries are one try (steal()), which may fail whatever the lock; the
 *    sweep's single try fails only if the lock is held.  A buffer's page
 *    release, the reap after it, the next buffer's page and the next
 *    map's read of seen and alloc_local() are one step: the first three
 *    touch nothing but page T, and an interleaving that tells them apart
 *    ends with T in the same state as one the model has.
 *  - Queue locks are not fair: a purge or a CPU waiting for one may be
 *    overtaken any number of times (liveness holds all the same).
 *  - steal() looks at the other queue only if its empty_hint or
 *    looks_reclaimable() says so, and may then pass it by whatever its
 *    lock: it stayed held for kSkipTries tries.
 *  - cxxvm_reap_retired()'s shortcut (return if cxxvm_reaped_seq == done)
 *    and the reaped_seq fix-up in cxxvm_pages_release() are left out: the
 *    model's reap always looks.  The shortcut only ever makes a reap free
 *    nothing.  The retired lists are a set here: their order, which makes
 *    cxxvm_reap_cut()'s cut at the first page still waiting a filter, is
 *    not checked.
 *  - A mapper holds one mapping at a time (map, unmap, free the buffer,
 *    reap, again), and a buffer has one mapping (its purge_seq is that
 *    unmap's number): dirty slots still fill the blocks, which is what
 *    makes steal, grow, borrow, the reclaims and the purges on map()'s
 *    paths happen.  With report_chunk_ = 1 every unmap reports in the
 *    step that names its purge, so a purge that took no report finds no
 *    block naming it in Walk::kAll's check (scan_q() asserts it): only
 *    an unmap made while the check waits for a lock, which names the
 *    next purge, could make it shoot down.  Whether the check tests
 *    covering() >= seq or > seq makes no difference at this scale.
 *
 * Purge numbers are kept relative to purges_done_ (D below), which keeps
 * the state space finite and is exact for every comparison the code
 * makes:
 *  - pif is purges_started_ - D (0 or 1: purges run one at a time, under
 *    purge_mutex_);
 *  - trel is max(0, T's covering purge - D): "seq <=
 *    cxxvm_arena_purged_seq()" is trel == 0, and each completed purge
 *    takes one off;
 *  - cv[b] is max(0, block b's covering() - D) while b has a page in
 *    dirty_, else 0 (covering() is <= D then: reclaim() freed dirty_ at
 *    a done >= covering(); release_to_dirty() raises it to the new
 *    number, which is > D): reclaim() at D frees dirty_ if cv == 0,
 *    Walk::kAll's "covering() >= seq" (seq = D + 1) is cv >= 1, and
 *    release_to_dirty()'s "seq > covering()" (seq = started + 1) is
 *    pif + 1 > cv;
 *  - ocv[b] is max(0, block b's older_covering_ - D) while b has a page
 *    in older_, else 0: reclaim() at D frees older_ if ocv == 0.  A new
 *    generation sets ocv = cv (older_covering_ = covering()), so ocv is
 *    0 or 1; it is 0 when the next one frees older_ (asserted:
 *    older_covering_ < covering() <= purges_started_);
 *  - rl[q] is min(2, D - queue q's reclaimed): the sweep's
 *    looks_reclaimable(q, seq - 1) after purge seq is rl == 2;
 *  - sl[c] is min(2, D - seen) for CPU c's map(), DEAD outside it (seen
 *    is dead): purge_needed()'s "purges_done_ == seen" is sl == 0.
 * map() hands seen to reclaim_if_behind() (alloc_local(), steal(),
 * borrow()) and looks_reclaimable() (steal()) as their done, though
 * purges may have completed since, and two numbers two or more behind D
 * cannot be told apart that way.  So those comparisons are kept as
 * relations, set when map() reads seen (= D then), and changed only by
 * what changes one side (a completed purge changes neither):
 *  - LT(c, q): queue q's reclaimed < CPU c's seen.  Set to rl[q] > 0; a
 *    reclaim at D clears it; one at CPU x's seen (reclaimed = that seen)
 *    clears LT(x, q) and sets LT(y, q) to SLT(x) for the other CPU y;
 *  - LE(c, b): block b has a page in dirty_ and covering() <= CPU c's
 *    seen.  Set to cv[b] == 0 for a block with a page in dirty_; cleared
 *    when a slot of b is released (covering() is then > D >= seen) or
 *    dirty_ is freed;
 *  - LEO(c, b): block b has a page in older_ and older_covering_ <= CPU
 *    c's seen.  Set to ocv[b] == 0 for a block with a page in older_; a
 *    new generation sets it to LE(c, b) (older_covering_ = covering());
 *    cleared when older_ is freed.  LE(c, b) implies it, as
 *    older_covering_ < covering();
 *  - SLT(c): CPU c's seen < the other CPU's (both in map()).
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
#ifndef SPB
#define SPB	2		/* slots per block (2 or 3, see the header) */
#endif
#define NS	(NB * SPB)	/* slots: block b has slots SPB b, ..., SPB b + SPB - 1 */
#define SL(b, i)	(SPB * (b) + (i))	/* block b's slot i */
#define BLK(s)		((s) / SPB)		/* slot s's block */
#define LAZY	2		/* params_.lazy_max_pages */
#define CAP	4		/* the cap (kCapFactor = 2 here, 16 in the code) */
#define GROW_LIMIT 1		/* grow_limit_ */

#define NONE	255
#define NOOWNER	2		/* VmapBlock::kNoOwner */
#define DEAD	3		/* sl[c]: CPU c is not in map() */

/* Slot states: VmapBlock's bitmaps free_, head_ (live), dirty_ (the
 * current generation of dirty pages, named covering_) and older_ (the
 * older one, named older_covering_). */
#define FREE	0
#define LIVE	1
#define DIRTY	2
#define OLDER	3

/* Page T's states (cxxvm_buf.c). */
#define PG_FREE		0	/* in the page allocator */
#define PG_BUF		1	/* in a buffer */
#define PG_PARKED	2	/* retired: on cxxvm_retired[] */
#define NOSEQ		3	/* trel: no C++ unmap since it was allocated */

/* Walk */
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
byte cv[NB];			/* VmapBlock::covering_ - purges_done_, see above */
byte ocv[NB];			/* VmapBlock::older_covering_ - purges_done_ */
byte owner[NB] = NOOWNER;	/* VmapBlock::owner_: whose queue's list */
bool inuse[NB];			/* reserved by grow() */
byte nr_blocks;			/* VmapArena::nr_blocks_ */
byte cur[NCPU] = NONE;		/* VmapBlockQueueState::current */
byte qlock[NCPU];		/* the queue spinlocks: 0 or the holder */
byte rl[NCPU];			/* purges_done_ - VmapBlockQueueState::reclaimed */
byte ehint[NCPU];		/* Queue::empty_hint */
byte dirty_reported;		/* VmapArena::dirty_reported_ */
byte mutex;			/* VmapArena::purge_mutex_: 0 or the holder */
bool work_pending;		/* VmapArena::work_ queued, not started */
bool pif;			/* purges_started_ - purges_done_ */
bool rep;			/* purge_locked()'s reported != 0 (under the mutex) */
bool needed;			/* purge_locked()'s needed (ditto, in (1)) */
bool got;			/* Walk::kAll's reclaims freed pages (ditto) */

/* map()'s seen (see above) */
byte sl[NCPU] = DEAD;		/* purges_done_ - seen, at most 2 */
bool slt[NCPU];			/* SLT(c) */
bool lt[NCPU * NCPU];		/* LT(c, q) */
bool le[NCPU * NB];		/* LE(c, b) */
bool leo[NCPU * NB];		/* LEO(c, b) */
#define SLT(c)		slt[c]
#define LT(c, q)	lt[(c) * NCPU + (q)]
#define LE(c, b)	le[(c) * NB + (b)]
#define LEO(c, b)	leo[(c) * NB + (b)]

/* ---- Ghosts ---- */

bool stale[NS];			/* a TLB may hold an old translation of s */
bool trk[NS];			/* a TLB may translate slot s to page T */
byte tslot = NONE;		/* the slot whose PTE maps T, or NONE */
byte tpst;			/* T's state, PG_* */
byte trel = NOSEQ;		/* T's covering purge - purges_done_ */

/*
 * FOR_SLOTS(b, M): M(s) for each slot s of block b, as statements;
 * ALL_SLOTS(M, op): M(s) for every slot s, joined by op, as an
 * expression.
 */
#if SPB == 2
#define FOR_SLOTS(b, M)	M(SL(b, 0)); M(SL(b, 1))
#define ALL_SLOTS(M, op)	(M(0) op M(1) op M(2) op M(3))
#elif SPB == 3
#define FOR_SLOTS(b, M)	M(SL(b, 0)); M(SL(b, 1)); M(SL(b, 2))
#define ALL_SLOTS(M, op)	(M(0) op M(1) op M(2) op M(3) op M(4) op M(5))
#else
#error "SPB is 2 or 3"
#endif

#ifndef NO_GHOST_TLB
#define STALE_SET(s)	stale[s] = 1
#define STALE_CLEAR(s)	stale[s] = 0
#define STALE_FLUSH	FOR_SLOTS(0, STALE_CLEAR); FOR_SLOTS(1, STALE_CLEAR)
#else
#define STALE_SET(s)	skip
#define STALE_FLUSH	skip
#endif

#ifndef NO_TRACK_PAGE
#define TRK_KEEP(s)	trk[s] = (tslot == (s))
#define TRK_FLUSH	FOR_SLOTS(0, TRK_KEEP); FOR_SLOTS(1, TRK_KEEP)
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

/* Some slot of block b in state v; every slot of block b in state v */
#if SPB == 2
#define ANY_IN(b, v)	(st[SL(b, 0)] == (v) || st[SL(b, 1)] == (v))
#define ALL_IN(b, v)	(st[SL(b, 0)] == (v) && st[SL(b, 1)] == (v))
#else
#define ANY_IN(b, v)	(st[SL(b, 0)] == (v) || st[SL(b, 1)] == (v) || st[SL(b, 2)] == (v))
#define ALL_IN(b, v)	(st[SL(b, 0)] == (v) && st[SL(b, 1)] == (v) && st[SL(b, 2)] == (v))
#endif
#define EMPTY(b)	ALL_IN(b, FREE)
/* VmapBlock::unclean(): some page of block b in dirty_ */
#define UNCLEAN_B(b)	ANY_IN(b, DIRTY)
/* some page of block b in older_ (only if UNCLEAN_B(b)) */
#define HAS_OLDER(b)	ANY_IN(b, OLDER)
/* Queue q's nr_unclean != 0 (and so its unclean_hint) */
#define UNCLEAN(q)	((owner[0] == (q) && UNCLEAN_B(0)) || \
			 (owner[1] == (q) && UNCLEAN_B(1)))
/* Queue q's nr_empty */
#define NR_EMPTY(q)	((owner[0] == (q) && EMPTY(0) -> 1 : 0) + \
			 (owner[1] == (q) && EMPTY(1) -> 1 : 0))

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

/* ---- Reclaim (vmap_arena.h, vmap_block.h) ---- */

#ifdef BUG_RECLAIM_UNCOVERED
/*
 * Mutation, "reclaim() ignores covering()": VmapBlock::reclaim(done)
 * makes a block's dirty pages, of both generations, free whether or not
 * the purge they name is among the done completed ones.
 */
#define COVERED_NOW(b)		1
#define COVERED_SEEN(x, b)	1
#define OCOVERED_NOW(b)		1
#define OCOVERED_SEEN(x, b)	1
#else
/* covering() <= done and older_covering_ <= done: done = purges_done_
 * (NOW), or CPU x's seen (SEEN) */
#define COVERED_NOW(b)		(cv[b] == 0)
#define COVERED_SEEN(x, b)	LE(x, b)
#define OCOVERED_NOW(b)		(ocv[b] == 0)
#define OCOVERED_SEEN(x, b)	LEO(x, b)
#endif

/* Whether VmapBlock::reclaim() at done = purges_done_, or at CPU x's
 * seen, frees a page of block b (which has a page in dirty_). */
#define FREES_NOW(b)		(COVERED_NOW(b) || (HAS_OLDER(b) && OCOVERED_NOW(b)))
#define FREES_SEEN(x, b)	(COVERED_SEEN(x, b) || (HAS_OLDER(b) && OCOVERED_SEEN(x, b)))

/* Whether reclaim_if_behind(q, CPU x's seen) would free a page. */
#define RECLAIMS_SEEN(x, q)	(LT(x, q) && \
	((owner[0] == (q) && UNCLEAN_B(0) && FREES_SEEN(x, 0)) || \
	 (owner[1] == (q) && UNCLEAN_B(1) && FREES_SEEN(x, 1))))

#define FREE_IF_DIRTY(s)	if :: st[s] == DIRTY -> st[s] = FREE :: else fi
#define FREE_IF_OLDER(s)	if :: st[s] == OLDER -> st[s] = FREE :: else fi
#define DIRTY_TO_OLDER(s)	if :: st[s] == DIRTY -> st[s] = OLDER :: else fi

/* VmapBlock::make_free(older_, older_pages_): older_ -> free. */
inline free_older(b)
{
	FOR_SLOTS(b, FREE_IF_OLDER);
	ocv[b] = 0;
	LEO(0, b) = 0;
	LEO(1, b) = 0
}

/*
 * VmapBlock::reclaim(done) on block b, which has a page in dirty_ (the
 * code walks unclean_blocks), given whether each generation's purge is
 * among the done completed ones (older_ok: older_covering_ <= done;
 * dirty_ok: covering() <= done): older_ -> free, then dirty_ -> free.
 * Since older_covering_ < covering(), dirty_ok implies older_ok: either
 * the block is clean now, or it keeps its dirty_ (and no older_).
 */
inline reclaim_block(b, older_ok, dirty_ok)
{
	assert(!(dirty_ok) || !HAS_OLDER(b) || (older_ok));
	if
	:: HAS_OLDER(b) && (older_ok) ->
		if
		:: !(dirty_ok) ->
			REACHED(33)	/* @reach reclaim_frees_older_only */
		:: else
		fi;
		free_older(b)
	:: else
	fi;
	if
	:: dirty_ok ->
		FOR_SLOTS(b, FREE_IF_DIRTY);
		cv[b] = 0;
		LE(0, b) = 0;
		LE(1, b) = 0
	:: else
	fi;
	assert(!HAS_OLDER(b) || UNCLEAN_B(b))
}

/*
 * VmapArena::reclaim(q, s, done) at done = purges_done_ (the sweep,
 * Walk::kAll's last pass), under q's lock: VmapBlock::reclaim() on every
 * block of the queue with a dirty page (the code walks unclean_blocks);
 * reclaimed = done, so no seen is past it; publish_empties(); the hints.
 * got: it freed pages (only the purge, under the mutex, calls this).
 */
inline reclaim_now(q)
{
	if
	:: owner[0] == q && UNCLEAN_B(0) ->
		if :: FREES_NOW(0) -> got = 1 :: else fi;
		reclaim_block(0, OCOVERED_NOW(0), COVERED_NOW(0))
	:: else
	fi;
	if
	:: owner[1] == q && UNCLEAN_B(1) ->
		if :: FREES_NOW(1) -> got = 1 :: else fi;
		reclaim_block(1, OCOVERED_NOW(1), COVERED_NOW(1))
	:: else
	fi;
	rl[q] = 0;
	LT(0, q) = 0;
	LT(1, q) = 0;
	ehint[q] = NR_EMPTY(q)
}

/*
 * reclaim_if_behind(q, s, seen) of CPU x's map() (alloc_local(), steal(),
 * borrow()), under q's lock: if reclaimed < seen, reclaim(q, s, seen):
 * VmapBlock::reclaim(seen) on every block of the queue with a dirty page;
 * reclaimed = seen; publish_empties(); the hints.
 */
inline reclaim_seen(x, q)
{
	if
	:: LT(x, q) ->
		if
		:: sl[x] != 0 && RECLAIMS_SEEN(x, q) ->
			/* purges completed since seen was read */
			REACHED(30)	/* @reach reclaim_at_old_seen */
		:: else
		fi;
		if
		:: owner[0] == q && UNCLEAN_B(0) ->
			reclaim_block(0, OCOVERED_SEEN(x, 0), COVERED_SEEN(x, 0))
		:: else
		fi;
		if
		:: owner[1] == q && UNCLEAN_B(1) ->
			reclaim_block(1, OCOVERED_SEEN(x, 1), COVERED_SEEN(x, 1))
		:: else
		fi;
		rl[q] = sl[x];
		LT(x, q) = 0;
		LT(1 - x, q) = SLT(x);
		ehint[q] = NR_EMPTY(q)
	:: else
	fi
}

/* ---- The purge (vmap_arena.h) ---- */

/*
 * Walk::kAll's check of queue q, under its lock: does a block with a
 * page in dirty_ name covering() >= seq, i.e. this purge or a later one
 * (older_ names an earlier purge than covering())?
 * The check runs only if nothing was reported, and with report_chunk_ =
 * 1 no block then names seq (see the header): only an unmap since this
 * purge began (seq + 1) can make it shoot down.
 */
inline scan_q(q)
{
	assert(!(owner[0] == q && UNCLEAN_B(0) && cv[0] == 1) &&
	       !(owner[1] == q && UNCLEAN_B(1) && cv[1] == 1));
	if
	:: (owner[0] == q && UNCLEAN_B(0) && cv[0] >= 1) ||
	   (owner[1] == q && UNCLEAN_B(1) && cv[1] >= 1) ->
		needed = 1
	:: else
	fi
}

/*
 * VmapArena::purge_locked(walk) up to its shootdown, inside the caller's
 * atomic step that took purge_mutex_: seq = purges_started_ + 1 and
 * purges_started_.store(seq) (pif), the fence; reported =
 * dirty_reported_.exchange(0); needed = kMaySkip or reported; if not,
 * Walk::kAll takes each queue's lock in turn (with_queue(): a wait lets
 * others run) to check it; then P::tlb_shootdown() if needed.  An unmap
 * from now on names seq + 1.
 */
inline purge_begin(walk)
{
	pif = 1;
	rep = (dirty_reported > 0);
	dirty_reported = 0;
	needed = (walk == MAYSKIP || rep);
	if
	:: !needed ->
		REACHED(4);	/* @reach purge_checks_queues */
		PURGE_WAIT(0); scan_q(0);
		if :: !needed -> PURGE_WAIT(1); scan_q(1) :: else fi
	:: else
	fi;
	if
	:: needed ->
		REACHED(3);	/* @reach shootdown */
		STALE_FLUSH; TRK_FLUSH
	:: else ->
		REACHED(5)	/* @reach purge_without_shootdown */
	fi;
	needed = 0
}

/*
 * The sweep of queue q after purge seq (sweep()): if its hints say it has
 * unclean blocks and has not reclaimed since purge seq - 1
 * (looks_reclaimable(q, seq - 1)), try its lock once and reclaim it.
 */
inline sweep_q(q)
{
	if
	:: UNCLEAN(q) && rl[q] == 2 ->
		if
		:: qlock[q] == 0 ->
			REACHED(7);	/* @reach sweep_reclaims */
			reclaim_now(q)
		:: else ->
			REACHED(6)	/* @reach sweep_finds_held */
		fi
	:: else
	fi
}

/*
 * The rest of purge_locked(): purges_done_.store(seq), which completes
 * purge seq for flushed_seq(), cxxvm_arena_purged_seq() and reclaim();
 * then Walk::kAll reclaims every queue (with_queue(): a wait lets others
 * run; freed = the pages it freed), Walk::kMaySkip sweeps (freed =
 * reported).  purge_and_release()'s release_surplus() returns no block
 * here (see the header); purge_mutex_ is dropped.  For the worker the
 * same step goes on with the rest of purge_work().
 */
inline purge_rest(walk, freed)
{
	atomic {
		REACHED(8);	/* @reach purge_completes */
		pif = 0;
		if :: trel == 1 || trel == 2 -> trel-- :: else fi;
		if :: cv[0] > 0 -> cv[0]-- :: else fi;
		if :: cv[1] > 0 -> cv[1]-- :: else fi;
		if :: ocv[0] > 0 -> ocv[0]-- :: else fi;
		if :: ocv[1] > 0 -> ocv[1]-- :: else fi;
		if :: rl[0] < 2 -> rl[0]++ :: else fi;
		if :: rl[1] < 2 -> rl[1]++ :: else fi;
		if :: sl[0] < 2 -> sl[0]++ :: else fi;
		if :: sl[1] < 2 -> sl[1]++ :: else fi
	};
	atomic {
		if
		:: walk == ALL ->
			if
			:: qlock[0] != 0 ->
				REACHED(25)	/* @reach reclaim_all_waits_held */
			:: else
			fi;
			PURGE_WAIT(0); reclaim_now(0);
			if :: qlock[1] != 0 -> REACHED(25) :: else fi;
			PURGE_WAIT(1); reclaim_now(1);
			if
			:: got ->
				REACHED(2)	/* @reach reclaim_all_frees */
			:: else
			fi;
			freed = got
		:: else ->
			sweep_q(0);
			sweep_q(1);
			freed = rep
		fi;
		got = 0;
		rep = 0;
		need = 0;
		mutex = 0;
		if :: _pid == 0 -> worker_tail() :: else fi
	}
}

/*
 * The end of VmapArena::purge_work(), after the mutex is dropped: queue
 * itself again if a purge is due again (unmaps reported lazy_max_pages
 * meanwhile), then the purged callback, cxxvm_arena_purged()
 * (cxxvm_arena.c), reaps.
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
	bool need;

end_idle:
	do
	:: atomic {
		work_pending -> work_pending = 0;	/* the work starts */
		mutex == 0 -> mutex = WORKER;
		if
		:: dirty_reported >= LAZY ->
			REACHED(10);	/* @reach worker_purge */
			need = 1; purge_begin(MAYSKIP)
		:: else -> mutex = 0; worker_tail()
		fi
	   };
		if
		:: need -> purge_rest(MAYSKIP, need)
		:: else
		fi
	od
}

/* ---- The CPUs: map() and unmap() (vmap_arena.h) ---- */

/*
 * map() reads seen = purges_done_ (CPU c): set the relations (see the
 * header) for this seen.
 */
inline read_seen()
{
	sl[c] = 0;
	SLT(c) = 0;
	SLT(oth) = (sl[oth] == 1 || sl[oth] == 2);
	LT(c, 0) = (rl[0] != 0);
	LT(c, 1) = (rl[1] != 0);
	LE(c, 0) = (UNCLEAN_B(0) && cv[0] == 0);
	LE(c, 1) = (UNCLEAN_B(1) && cv[1] == 0);
	LEO(c, 0) = (HAS_OLDER(0) && ocv[0] == 0);
	LEO(c, 1) = (HAS_OLDER(1) && ocv[1] == 0)
}

/* map() returns: seen is dead. */
inline seen_dead()
{
	sl[c] = DEAD;
	SLT(0) = 0;
	SLT(1) = 0;
	LT(c, 0) = 0;
	LT(c, 1) = 0;
	LE(c, 0) = 0;
	LE(c, 1) = 0;
	LEO(c, 0) = 0;
	LEO(c, 1) = 0
}

/* VmapBlock::alloc() in block b: its lowest free slot, or NONE. */
inline block_alloc(b, res)
{
	if
	:: st[SL(b, 0)] == FREE -> res = SL(b, 0)
	:: st[SL(b, 0)] != FREE && st[SL(b, 1)] == FREE -> res = SL(b, 1)
#if SPB == 3
	:: st[SL(b, 0)] != FREE && st[SL(b, 1)] != FREE && st[SL(b, 2)] == FREE ->
		res = SL(b, 2)
#endif
	:: else
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
		if :: res != NONE -> cur[q] = BLK(res) :: else fi;
		e = 0;
		k = 0
	:: else
	fi;
	if
	:: res != NONE ->
		st[res] = LIVE;			/* VmapBlock::alloc() */
		/* P::ptes_set(); any CPU may cache the translation now */
		if :: mine -> tslot = res; trk[res] = 1 :: else fi;
		seen_dead();			/* map() returns */
		throttled = 0;
		growerr = 0
	:: else
	fi
}

/*
 * 1. alloc_local(): under the local queue's lock, reclaim_if_behind() at
 * seen, then alloc_in().
 */
inline alloc_local()
{
	if
	:: RECLAIMS_SEEN(c, c) ->
		REACHED(1)	/* @reach map_reclaims */
	:: else
	fi;
	reclaim_seen(c, c);
	alloc_in(c, s)
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
		if
		:: why == R_NOROOM && nr_blocks < NB -> need = 0
		:: else -> need = (sl[c] == 0)
		fi;
		why = 0;
		if
		:: need -> purge_begin(walk)
		:: else -> mutex = 0; retry = 1
		fi
	};
	if
	:: need -> purge_rest(walk, retry)
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
			mutex = me; need = 1; purge_begin(MAYSKIP)
		:: else
		fi
	};
	if
	:: need -> purge_rest(MAYSKIP, freed)
	:: else
	fi
}

/*
 * VmapBlock::release_to_dirty(idx, seq) for slot s of block b, with seq =
 * purges_started_ + 1 (NAMED), read after the fence: if seq >
 * covering() and the block has pages in dirty_, a new generation: older_
 * is made free at once (its purge, older_covering_ < covering() <=
 * purges_started_, has completed, since purges run one at a time), dirty_
 * becomes older_ and older_covering_ = covering(); if seq > covering(),
 * covering() = seq; then the slot goes into dirty_.  The arena's
 * release() refiles the block if pages were freed (the model keeps no
 * fill lists; the block is not empty: it has the new dirty slot).
 */
#ifdef BUG_COVERING_OFF_BY_ONE
#define NAMED	pif		/* mutation: purges_started_ */
#else
#define NAMED	(pif + 1)	/* purges_started_ + 1 */
#endif

#ifdef BUG_SHIFT_ON_EQUAL
#define NEW_GEN(b)	(NAMED >= cv[b])	/* mutation: seq >= covering() */
#else
#define NEW_GEN(b)	(NAMED > cv[b])		/* seq > covering() */
#endif

inline release_to_dirty(b, s)
{
	if
	:: NEW_GEN(b) && UNCLEAN_B(b) ->
		REACHED(31);	/* @reach new_generation */
		if
		:: HAS_OLDER(b) ->
			REACHED(32);	/* with -DSPB=3 only, see the header */
#ifndef BUG_SHIFT_ON_EQUAL
			assert(ocv[b] == 0);	/* its purge has completed */
#endif
			free_older(b)
		:: else
		fi;
		FOR_SLOTS(b, DIRTY_TO_OLDER);
		ocv[b] = cv[b];
		LEO(0, b) = LE(0, b);
		LEO(1, b) = LE(1, b);
		cv[b] = NAMED
	:: NEW_GEN(b) && !UNCLEAN_B(b) ->
#ifndef BUG_COVERING_ONLY_ON_SHIFT
		cv[b] = NAMED
#else
		skip	/* mutation: covering() stays */
#endif
	:: else
	fi;
	st[s] = DIRTY;
	LE(0, b) = 0;		/* covering() > purges_done_ >= any seen */
	LE(1, b) = 0
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
	bool throttled, growerr, retry, need, purge_now, over_cap;

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
		read_seen();
		CAN_LOCK(c) -> alloc_local()
	};
	goto map_loop;

	/* map() starts again: seen = purges_done_; alloc_local() */
map_again:
	atomic {
		retry = 0;
		growerr = 0;
		read_seen();
		CAN_LOCK(c) -> alloc_local()
	};

map_loop:
	/* 2. steal(): only if the other queue's empty_hint, or its
	 * unclean_hint and reclaimed_hint (looks_reclaimable(seen)), say so,
	 * and if its lock is free (one held for kSkipTries tries is passed
	 * by: try_for_a_while()); under it reclaim_if_behind() at seen, find
	 * an empty block, detach() it (no owner in between) and
	 * publish_empties(); then attach_and_alloc() under ours */
	if
	:: s == NONE ->
		atomic {
			b = NONE;
			if
			:: (ehint[oth] != 0 || (UNCLEAN(oth) && LT(c, oth))) && CAN_LOCK(oth)
			:: true ->
				/* not looked at, or its lock held for kSkipTries */
				REACHED(24);	/* @reach steal_skips */
				goto steal_done
			fi;
			if
			:: ehint[oth] == 0 ->
				REACHED(26)	/* @reach steal_looks_reclaimable */
			:: else
			fi;
			if
			:: RECLAIMS_SEEN(c, oth) ->
				REACHED(27)	/* @reach steal_reclaims */
			:: else
			fi;
			reclaim_seen(c, oth);
			if
			:: owner[0] == oth && EMPTY(0) -> b = 0
			:: else ->
				if :: owner[1] == oth && EMPTY(1) -> b = 1 :: else fi
			fi;
			if
			:: b != NONE ->
				owner[b] = NOOWNER;
				if :: cur[oth] == b -> cur[oth] = NONE :: else fi
			:: else
			fi;
			ehint[oth] = NR_EMPTY(oth);
			if
			:: b != NONE ->
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

	/* 4. borrow(): under the other queue's lock, reclaim_if_behind() at
	 * seen, then a slot in its blocks, which stays there */
	if
	:: s == NONE ->
		atomic {
			CAN_LOCK(oth) ->
			if
			:: RECLAIMS_SEEN(c, oth) ->
				REACHED(28)	/* @reach borrow_reclaims */
			:: else
			fi;
			reclaim_seen(c, oth);
			alloc_in(oth, s);
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
				seen_dead();
				if :: mine -> free_t(); mine = 0 :: else fi
			};
			goto next_buffer
		fi
	fi;

	/* ---- VmapArena::unmap() ---- */
	/* unmap_locked(): the block's owner, read without its lock, then
	 * that queue's lock; release() under it: P::ptes_clear() (what a
	 * TLB holds of the slot is stale now), the fence, covering =
	 * purges_started_ + 1, release_to_dirty(idx, covering), the
	 * refile if it freed pages, dirtied() (the unclean_hint), the
	 * report (report_chunk_ = 1); covering becomes the buffer's
	 * purge_seq (cxxvm_mapping_destroy_locked()).  The lock stays held
	 * for a step: others may find it so. */
	atomic {
		o = owner[BLK(s)];
		assert(o != NOOWNER);
		CAN_LOCK(o) -> qlock[o] = me;
		assert(owner[BLK(s)] == o);
		STALE_SET(s);
		if :: tslot == s -> tslot = NONE :: else fi;
		if
		:: pif ->
			REACHED(29)	/* @reach unmap_names_next_purge */
		:: else
		fi;
		b = BLK(s);
		release_to_dirty(b, s);
		b = 0;
		dirty_reported++;
		purge_now = (dirty_reported >= LAZY);
		over_cap = (dirty_reported >= CAP);
		if :: mine -> trel = NAMED :: else fi
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
ltl no_stale_reuse { [] ALL_SLOTS(HANDOUT_OK, &&) }
#endif

#ifndef NO_TRACK_PAGE
/*
 * 2. No page is freed before the purge covering it completes: while page
 *    T is in the page allocator, no TLB may translate any slot to it.
 */
#define TRK(s)		trk[s]
ltl no_early_free { [] (tpst != PG_FREE || !ALL_SLOTS(TRK, ||)) }
#endif

/*
 * 3. Every dirty slot (DIRTY or OLDER) is eventually freed.  Checked
 *    with weak fairness (pan -a -f) and under the assumption that the
 *    CPUs keep mapping and unmapping (they do here, forever).  The code
 *    is lazy on purpose:
 *    below lazy_max_pages dirty pages wait for the next purge, and a
 *    completed purge's slots wait for a reclaim, so once nothing unmaps
 *    any more a dirty slot may stay dirty until FLUSH, shrink or destroy.
 *    While CPUs keep unmapping, the threshold (the worker) or a map()
 *    that finds no room brings that purge, and the owner's next map()
 *    (alloc_local()) the reclaim.  A dirty slot becomes OLDER when its
 *    block starts a new generation, and is freed by reclaim() or, if
 *    OLDER, by the start of the next generation; but alloc_local() may
 *    take it again in the same critical section as reclaim(), a step in
 *    which it is never seen FREE, so the property watches it leave DIRTY
 *    and OLDER.
 */
#define EVENTUALLY_FREE(s)	(st[s] >= DIRTY -> <> (st[s] < DIRTY))
ltl dirty_freed { [] ALL_SLOTS(EVENTUALLY_FREE, &&) }
