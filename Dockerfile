# smsrun as a container: `docker compose run --rm smsrun <command> …` (see README, "Docker").
# Two stages: the build stage compiles src/ to dist/ with the dev dependencies; the runtime stage keeps only the
# production dependencies, dist/, bin/ and sql/ (the migrations, read at run time from ../../sql relative to dist/ledger).

FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` runs the build, and the sources are not copied yet (no dependency has install scripts).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:22-slim
ENV NODE_ENV=production \
    SMSRUN_HOME=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY sql ./sql
COPY jobs ./jobs
# SMSRUN_HOME: the embedded ledger (when DATABASE_URL is not set) and the reports.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
ENTRYPOINT ["node", "bin/smsrun.js"]
CMD ["--help"]
