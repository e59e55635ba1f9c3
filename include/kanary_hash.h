/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kanary_hash.h - the hashes that decide where a connection goes.
 *
 * Shared by the BPF program (which steers) and user space (which builds the
 * Maglev tables and, in tests, predicts the kernel's choices), so both sides
 * compute bit-identical values. The mixing is Bob Jenkins' lookup3 final
 * mix, well studied for avalanche and cheap in BPF (no loops, no tables).
 * Fixed-width types only; includes nothing.
 */
#ifndef KANARY_HASH_H
#define KANARY_HASH_H

#define KN_HASH_INIT 0xdeadbeefU
/* Distinct starting points so that client, flow and backend hashes are
 * independent of each other even for equal inputs. */
#define KN_HASH_CLIENT 0x6b616e61U /* client -> version bucket */
#define KN_HASH_FLOW   0x72792d66U /* flow -> replica within a pool */
#define KN_HASH_OFFSET 0x6f666673U /* Maglev offset of a backend */
#define KN_HASH_SKIP   0x736b6970U /* Maglev skip of a backend */
#define KN_HASH_CONN   0x636f6e6eU /* connection -> version bucket */
#define KN_HASH_SEEN   0x7365656eU /* client -> bit of the seen bitmap */

static inline __u32 kn_rol32(__u32 word, unsigned int shift)
{
	return (word << (shift & 31)) | (word >> ((-shift) & 31));
}

/* clang-format off: one mixing step per line reads as the algorithm. */
// clang-format off
#define KN_HASH_MIX(a, b, c)                                                   \
	do {                                                                   \
		a -= c; a ^= kn_rol32(c, 4);  c += b;                          \
		b -= a; b ^= kn_rol32(a, 6);  a += c;                          \
		c -= b; c ^= kn_rol32(b, 8);  b += a;                          \
		a -= c; a ^= kn_rol32(c, 16); c += b;                          \
		b -= a; b ^= kn_rol32(a, 19); a += c;                          \
		c -= b; c ^= kn_rol32(b, 4);  b += a;                          \
	} while (0)

#define KN_HASH_FINAL(a, b, c)                                                 \
	do {                                                                   \
		c ^= b; c -= kn_rol32(b, 14);                                  \
		a ^= c; a -= kn_rol32(c, 11);                                  \
		b ^= a; b -= kn_rol32(a, 25);                                  \
		c ^= b; c -= kn_rol32(b, 16);                                  \
		a ^= c; a -= kn_rol32(c, 4);                                   \
		b ^= a; b -= kn_rol32(a, 14);                                  \
		c ^= b; c -= kn_rol32(b, 24);                                  \
	} while (0)

// clang-format on

/* Hash of four address words and one extra word (port, protocol...). */
static inline __u32 kn_hash_words5(__u32 w0, __u32 w1, __u32 w2, __u32 w3,
				   __u32 extra, __u32 seed)
{
	__u32 a = KN_HASH_INIT + seed + w0;
	__u32 b = KN_HASH_INIT + seed + w1;
	__u32 c = KN_HASH_INIT + seed + w2;

	KN_HASH_MIX(a, b, c);
	a += w3;
	b += extra;
	KN_HASH_FINAL(a, b, c);
	return c;
}

/*
 * The version bucket of a client, 0..KN_WEIGHT_SCALE_BP-1. It depends only
 * on the client address and the service seed: a client stays on its version,
 * and raising the weight only moves clients from stable to canary.
 * Multiply-shift maps the 32-bit hash onto the range without a division.
 */
static inline __u32 kn_client_bucket(const __u32 addr[4], __u32 service_seed,
				     __u32 scale)
{
	__u32 h = kn_hash_words5(addr[0], addr[1], addr[2], addr[3], 0,
				 service_seed ^ KN_HASH_CLIENT);
	return (__u32)(((__u64)h * scale) >> 32);
}

/* Which Maglev slot a new flow reads: a hash of the client's address and
 * port, so that each connection of a client can land on another replica. */
static inline __u32 kn_flow_slot(const __u32 client[4], __u16 client_port,
				 __u8 proto, __u32 service_seed,
				 __u32 ring_size)
{
	__u32 h = kn_hash_words5(client[0], client[1], client[2], client[3],
				 ((__u32)client_port << 16) | proto,
				 service_seed ^ KN_HASH_FLOW);
	return (__u32)(((__u64)h * ring_size) >> 32);
}

/*
 * The version bucket of a connection, for services with connection
 * affinity: the client's address, port and protocol (with the VIP:port the
 * service names, the connection's 5-tuple), so that each connection of a
 * client draws its version anew and a few clients' connections still split
 * as the weight says. Independent of kn_flow_slot (another start).
 */
static inline __u32 kn_connection_bucket(const __u32 client[4],
					 __u16 client_port, __u8 proto,
					 __u32 service_seed, __u32 scale)
{
	__u32 h = kn_hash_words5(client[0], client[1], client[2], client[3],
				 ((__u32)client_port << 16) | proto,
				 service_seed ^ KN_HASH_CONN);
	return (__u32)(((__u64)h * scale) >> 32);
}

/* Which bit of a bitmap of `bits` bits (a power of two) a client address
 * sets when it opens a flow: the same for every service. */
static inline __u32 kn_client_seen_bit(const __u32 client[4], __u32 bits)
{
	return kn_hash_words5(client[0], client[1], client[2], client[3], 0,
			      KN_HASH_SEEN) &
	       (bits - 1);
}

/* The endpoint filters (kn_service_filter, kn_backend_filter): 2^16 bits
 * each, in 64-bit words. */
#define KN_FILTER_SHIFT 16
#define KN_FILTER_BITS	(1U << KN_FILTER_SHIFT)
#define KN_FILTER_WORDS (KN_FILTER_BITS / 64)

/*
 * Which of the KN_FILTER_BITS bits of an endpoint filter an address and
 * port (as the header holds them) fall on: a service's VIP:port in
 * kn_service_filter, a backend's address:port in kn_backend_filter. A
 * program turns a packet whose bit is clear away before it searches the
 * connection table. A fold and a multiply (the top bits of a product by
 * the golden ratio): a collision costs only the lookups after.
 */
static inline __u32 kn_filter_bit(const __u32 addr[4], __u16 port)
{
	__u32 x = addr[0] ^ addr[1] ^ addr[2] ^ addr[3] ^ ((__u32)port << 16);

	return (x * 0x9e3779b1U) >> (32 - KN_FILTER_SHIFT);
}

#endif /* KANARY_HASH_H */
