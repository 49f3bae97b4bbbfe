import { describe, expect, it } from "@effect/vitest"
import * as DbMetrics from "../src/Telemetry/DbMetrics.ts"

describe("DbMetrics.operationOf", () => {
  it("labels a statement by its first keyword, whatever the case, indentation or opening parenthesis", () => {
    expect(DbMetrics.operationOf("SELECT 1")).toBe("SELECT")
    expect(DbMetrics.operationOf("\n    with ranked AS (SELECT 1) SELECT * FROM ranked")).toBe("WITH")
    expect(DbMetrics.operationOf(" ( select 1) UNION (select 2)")).toBe("SELECT")
    expect(DbMetrics.operationOf("savepoint s1")).toBe("SAVEPOINT")
    expect(DbMetrics.operationOf("COMMIT")).toBe("COMMIT")
  })

  it("keeps the label set closed: unknown or over-long first words are OTHER", () => {
    expect(DbMetrics.operationOf("VACUUM events")).toBe("OTHER")
    expect(DbMetrics.operationOf("SELECTED")).toBe("OTHER")
    expect(DbMetrics.operationOf("INSERTINSERTINSERT INTO x")).toBe("OTHER")
    expect(DbMetrics.operationOf("")).toBe("OTHER")
    expect(DbMetrics.operationOf("-- comment\nSELECT 1")).toBe("OTHER")
  })
})
