{{/* Names and labels shared by every object of the chart. */}}
{{- define "airflow-ml.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "airflow-ml.labels" -}}
app.kubernetes.io/part-of: airflow-ml
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "airflow-ml.mlflow.name" -}}
{{- printf "%s-mlflow" (include "airflow-ml.fullname" .) -}}
{{- end -}}

{{- define "airflow-ml.mlflow.selector" -}}
app.kubernetes.io/name: mlflow
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod Security Admission labels for a namespace we create. */}}
{{- define "airflow-ml.podSecurity" -}}
pod-security.kubernetes.io/enforce: {{ . }}
pod-security.kubernetes.io/audit: {{ . }}
pod-security.kubernetes.io/warn: {{ . }}
{{- end -}}

{{/* The container security context of everything this chart runs (non-root uid 10001). */}}
{{- define "airflow-ml.containerSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
