# The shadowplane control plane (and the demo services the compose sandbox runs).
FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev
COPY configs ./configs
COPY envoy ./envoy
COPY ui ./ui
EXPOSE 10000 18000 19000
ENTRYPOINT ["node", "bin/shadowplane.js"]
CMD ["serve", "--config", "configs/sandbox.yaml", "--xds", "127.0.0.1:18000", "--admin", "0.0.0.0:19000"]
