import { defineConfig } from "drizzle-kit";

// `out` is wrangler's `migrations_dir`: drizzle-kit writes the SQL, wrangler applies it.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
