// The lower tail of a Poisson count: how rare it is to see at most `s` events
// where `lambda` were expected. The seasonal ensemble's count component uses it
// to judge a run of low counts on a quiet series, where a few zeros in a row are
// rare under Poisson noise but small against a spread measured in absolute units.

/** Largest expected count for which the tail is summed term by term; beyond it the caller does not ask. */
export const MAX_POISSON_LAMBDA = 200

/**
 * P(N ≤ s) for N ~ Poisson(lambda), s a non-negative integer, lambda in (0, MAX_POISSON_LAMBDA].
 * Summed term by term from k = 0 (at most s + 1 terms); 1 when s ≥ lambda is not asked for
 * by the caller but is returned correctly as well.
 */
export function poissonLowerTail(s: number, lambda: number): number {
  if (s < 0) return 0
  if (!(lambda > 0)) return 1
  let term = Math.exp(-lambda)
  let sum = term
  for (let k = 1; k <= s; k++) {
    term *= lambda / k
    sum += term
    if (sum >= 1) return 1
  }
  return Math.min(1, sum)
}
