/* libvips's error text, taken safely.
 *
 * libvips keeps one error buffer for the whole process.  Reading it with
 * vips_error_buffer() and clearing it afterwards races with every other
 * thread (server workers, --jobs N): a job could report another job's
 * message, and libvips messages name the input's path, which holds the job
 * id.  Here the text is taken and cleared in one step under libvips's own
 * lock (vips_error_buffer_copy), and every path in it is cut to its base
 * name, so a message shown to a client never names a directory, ours or
 * another job's.  What remains shared: a line another job's failure added
 * in the same instant can still appear, without its path.
 */
#ifndef RT_IO_VIPS_ERROR_H
#define RT_IO_VIPS_ERROR_H

#include <stddef.h>

/* The text of the libvips call that just failed, at most its first two
 * lines joined, paths cut to base names ("unknown libvips error" when the
 * buffer is empty); the buffer is cleared. */
void rt_vips_error_take(char *out, size_t cap);

/* Clears the buffer after a failure answered in our own words. */
void rt_vips_error_drop(void);

/* Cuts every path in text (in place) to its base name: in each word
 * (between spaces, quotes, brackets or commas) that holds a '/', only what
 * follows the last '/' stays. */
void rt_strip_paths(char *text);

#endif
