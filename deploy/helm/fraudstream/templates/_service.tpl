{{/* The Service of one component: its gRPC (or HTTP) and metrics ports. */}}
{{- define "fraudstream.service" -}}
{{- $ports := index (include "fraudstream.ports" .root | fromYaml) .service }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "fraudstream.fullname" .root }}-{{ .service }}{{ if .headless }}-headless{{ end }}
  labels:
    {{- include "fraudstream.labels" . | nindent 4 }}
spec:
  {{- if .headless }}
  clusterIP: None
  # Scorer clients resolve only ready scorers; StatefulSet pods keep their names while starting.
  publishNotReadyAddresses: {{ ne .service "scorer" }}
  {{- else if eq .service "console" }}
  # Sessions live in one console process.
  sessionAffinity: ClientIP
  {{- end }}
  selector:
    {{- include "fraudstream.selectorLabels" . | nindent 4 }}
  ports:
    {{- if $ports.grpc }}
    - {name: grpc, port: {{ $ports.grpc }}, targetPort: grpc, protocol: TCP, appProtocol: grpc}
    {{- else }}
    - {name: http, port: {{ $ports.http }}, targetPort: http, protocol: TCP, appProtocol: http}
    {{- end }}
    - {name: metrics, port: {{ $ports.metrics }}, targetPort: metrics, protocol: TCP, appProtocol: http}
{{- end }}
