/* route_table.h: the API's routes, one line each (API.md "Routes").
 *
 * An X-macro so the one list serves routes.c (which binds each line to its
 * handler) and the route fuzzer (which needs only methods and patterns).
 * Adding a route: one handler function in routes.c, one line here.
 *
 *   X(method, pattern, body kind, handler)
 */
#ifndef RD_ROUTE_TABLE_H
#define RD_ROUTE_TABLE_H

#define RD_ROUTE_TABLE(X)                                                                          \
    X("POST", "/api/v1/retoucher/start", RD_BODY_UPLOAD, route_start)                              \
    X("GET", "/api/v1/retoucher/status/{id}", RD_BODY_NONE, route_status)                          \
    X("GET", "/api/v1/retoucher/getFile/{id}", RD_BODY_NONE, route_get_file)                       \
    X("GET", "/api/v1/retoucher/getMetadata/{id}", RD_BODY_NONE, route_get_metadata)               \
    X("POST", "/api/v1/balance", RD_BODY_FORM, route_balance)                                      \
    X("POST", "/api/retouch/v1/balance", RD_BODY_FORM, route_balance)                              \
    X("GET", "/api/v1/info/limits", RD_BODY_NONE, route_limits)                                    \
    X("GET", "/healthz", RD_BODY_NONE, route_healthz)                                              \
    X("GET", "/metrics", RD_BODY_NONE, route_metrics)

#endif
