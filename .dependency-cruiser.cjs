/**
 * The dependency rule (docs/architecture.md), checked in CI:
 *   server → {engine, api}; engine → {sql, domain, cache, outbox, resilience}; client → {api, domain};
 *   api → domain; sql → domain; domain → effect only (stable modules, no I/O, no HTTP, no SQL); cache,
 *   outbox, resilience → effect and their drivers. The engine serves no HTTP and needs none of the
 *   server's drivers (JWT, NATS, PGlite, the Node HTTP platform). Nothing imports server.
 */
module.exports = {
  forbidden: [
    {
      name: "domain-is-pure",
      comment: "domain imports only stable effect modules: no drivers, node:*, SQL, HTTP or sibling packages",
      severity: "error",
      from: { path: "^packages/domain/src" },
      to: {
        pathNot: ["^packages/domain/src", "node_modules/effect/"],
        dependencyTypesNot: ["type-only"]
      }
    },
    {
      name: "domain-no-effect-io",
      severity: "error",
      from: { path: "^packages/domain/src" },
      to: { path: "node_modules/effect/(dist|src)/(sql|http|http-api|unstable|platform|socket|persistence)/" }
    },
    {
      name: "sql-depends-on-domain-only",
      severity: "error",
      from: { path: "^packages/sql/src" },
      to: { path: "^packages/(server|engine|cache|outbox|resilience)/" }
    },
    {
      name: "infrastructure-packages-stand-alone",
      comment: "cache, outbox and resilience import only effect and their own drivers, never a sibling package",
      severity: "error",
      from: { path: "^packages/(cache|outbox|resilience)/src" },
      to: { path: "^packages/(domain|sql|server|engine|cache|outbox|resilience)/", pathNot: "^packages/$1/" }
    },
    {
      name: "engine-is-not-a-server",
      comment: "the engine composes the library packages; HTTP serving, JWT, NATS and PGlite stay out (the last two are optional peers loaded by sql and outbox)",
      severity: "error",
      from: { path: "^packages/engine/src" },
      to: {
        path: [
          "^packages/server/",
          "node_modules/effect/(dist|src)/http-api/",
          "node_modules/(@effect/platform-node|jose|@nats-io|@electric-sql|graphql|graphql-ws|ws)/"
        ]
      }
    },
    {
      name: "library-packages-do-not-import-the-engine",
      comment: "the engine sits above the library packages: none of them may reach back up",
      severity: "error",
      from: { path: "^packages/(domain|sql|cache|outbox|resilience)/src" },
      to: { path: "^packages/engine/" }
    },
    {
      name: "api-is-a-contract",
      comment: "the HTTP contract imports effect and domain only: no handler, driver, node:* or server code, so a client can depend on it",
      severity: "error",
      from: { path: "^packages/api/src" },
      to: {
        pathNot: ["^packages/(api|domain)/src", "node_modules/effect/"],
        dependencyTypesNot: ["type-only"]
      }
    },
    {
      name: "client-depends-on-the-contract-only",
      comment: "the client brings no server-only dependency to its users: effect, api and domain only",
      severity: "error",
      from: { path: "^packages/client/src" },
      to: {
        pathNot: ["^packages/(client|api|domain)/src", "node_modules/effect/"],
        dependencyTypesNot: ["type-only"]
      }
    },
    {
      name: "nothing-imports-server",
      severity: "error",
      from: { pathNot: "^packages/server/" },
      to: { path: "^packages/server/src" }
    },
    {
      name: "no-unresolvable",
      comment: "an import that does not resolve would also escape every rule above",
      severity: "error",
      from: { path: "^packages/[^/]+/src" },
      to: { couldNotResolve: true }
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^packages/[^/]+/(dist|test)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      conditionNames: ["@live-events/source", "import", "types", "default"],
      exportsFields: ["exports"]
    },
    preserveSymlinks: false
  }
}
