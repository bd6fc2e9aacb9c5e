from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import APIView


class ObtainTokenView(ObtainAuthToken):
    pass


class MeView(APIView):
    def get(self, request):
        return Response({"username": request.user.get_username()})
